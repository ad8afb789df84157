-- Version 6: lineage edges curated shard -> encoded shard for the encoded shards registered before
-- encoded batch files named their curated shard (ShardRecord.source_shard, 0be58d5): without them
-- a lineage query from a checkpoint stopped at its encoded shards. An encoded shard came from the
-- curated shard whose accepted samples (shard_samples) are exactly the samples it encodes; two
-- curated shards with the same samples (curated twice) both get an edge.
-- Idempotent: an encoded shard that has an incoming shard edge is left as it is.
INSERT INTO lineage (src_kind, src_id, dst_kind, dst_id, created_at)
WITH encoded AS (
    SELECT DISTINCT e.shard_uri AS encoded, e.key
    FROM encodings e JOIN shards s ON s.uri = e.shard_uri AND s.stage = 'encoded'
    WHERE NOT EXISTS (SELECT 1 FROM lineage l WHERE l.src_kind = 'shard' AND l.dst_kind = 'shard' AND l.dst_id = e.shard_uri)
),
encoded_size AS (SELECT encoded, count(*) AS n FROM encoded GROUP BY encoded),
curated_size AS (
    SELECT ss.shard_uri AS curated, count(DISTINCT ss.key) AS n
    FROM shard_samples ss JOIN shards s ON s.uri = ss.shard_uri AND s.stage = 'curated'
    GROUP BY ss.shard_uri
),
shared AS (
    SELECT e.encoded, ss.shard_uri AS curated, count(DISTINCT e.key) AS n
    FROM encoded e JOIN shard_samples ss USING (key)
    GROUP BY ALL
)
SELECT 'shard', sh.curated, 'shard', sh.encoded,
       (SELECT coalesce(max(applied_at), TIMESTAMP '1970-01-01') FROM schema_version)
FROM shared sh
JOIN encoded_size es USING (encoded)
JOIN curated_size cs USING (curated)
WHERE sh.n = es.n AND sh.n = cs.n;
