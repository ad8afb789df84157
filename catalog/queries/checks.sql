-- Data tests, dbt style: each `check_*` statement counts violations; 0 means it holds.
-- (Not-null, uniqueness and value domains are enforced by the table constraints themselves.)

-- name: check_verdicts_have_samples
SELECT count(*) FROM verdicts v WHERE NOT EXISTS (SELECT 1 FROM samples s WHERE s.key = v.key);

-- name: check_encodings_have_samples
SELECT count(*) FROM encodings e WHERE NOT EXISTS (SELECT 1 FROM samples s WHERE s.key = e.key);

-- name: check_encodings_in_known_shards
SELECT count(*) FROM encodings e WHERE NOT EXISTS (SELECT 1 FROM shards s WHERE s.uri = e.shard_uri);

-- name: check_shard_samples_known
SELECT count(*) FROM shard_samples x
WHERE NOT EXISTS (SELECT 1 FROM shards s WHERE s.uri = x.shard_uri)
   OR NOT EXISTS (SELECT 1 FROM samples s WHERE s.key = x.key);

-- name: check_samples_runs_known
SELECT count(*) FROM samples s
WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.run_id = s.first_run)
   OR NOT EXISTS (SELECT 1 FROM runs r WHERE r.run_id = s.last_run);

-- name: check_manifest_member_counts
SELECT count(*) FROM manifests f
WHERE f.num_members <> (SELECT count(*) FROM manifest_members m WHERE m.manifest = f.name AND m.version = f.version);

-- name: check_checkpoint_manifests_known
SELECT count(*) FROM checkpoints c
WHERE c.manifest IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM manifests f WHERE f.name = c.manifest AND f.version = c.manifest_version);

-- name: check_samples_unique
SELECT count(*) - count(DISTINCT key) FROM samples;

-- name: check_verdicts_unique
SELECT count(*) FROM (SELECT key, filter, filter_version FROM verdicts GROUP BY ALL HAVING count(*) > 1);

-- name: check_encodings_unique
SELECT count(*) FROM (SELECT key, encoder_fingerprint, kind FROM encodings GROUP BY ALL HAVING count(*) > 1);

-- name: check_shard_samples_unique
SELECT count(*) FROM (SELECT shard_uri, key FROM shard_samples GROUP BY ALL HAVING count(*) > 1);

-- name: check_manifest_members_unique
SELECT count(*) FROM (SELECT manifest, version, key FROM manifest_members GROUP BY ALL HAVING count(*) > 1);

-- name: check_manifest_encodings_unique
SELECT count(*) FROM (SELECT manifest, version, key, kind FROM manifest_encodings GROUP BY ALL HAVING count(*) > 1);

-- name: check_manifest_encoders_single
-- A manifest never mixes encoder fingerprints of one kind.
SELECT count(*) FROM (SELECT manifest, version, kind FROM manifest_encodings GROUP BY ALL
                      HAVING count(DISTINCT encoder_fingerprint) > 1);

-- name: check_source_index_unique
-- One index row per entry name of a refreshed source (migration 007 made it so; refresh keeps it).
SELECT count(*) FROM (SELECT source, modality, name FROM source_index GROUP BY ALL HAVING count(*) > 1);
