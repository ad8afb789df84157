-- Registration of one batch, all in one transaction (Catalog._register_one runs them in order).
--
-- The batch's records are visible as Arrow-backed views batch_samples, batch_verdicts and
-- batch_encodings, each with an _ord column (position in the batch). Rules:
--   * within a batch the last record for a key wins (QUALIFY row_number() ... _ord DESC);
--   * across batches the latest registration wins: status, reason, verdicts and encodings are
--     replaced; descriptive columns keep old values where the new record has NULL; meta is
--     merged (json_merge_patch); first_run is kept and last_run set to the registering run;
--   * verdicts and encodings must name samples that are in the batch or already registered.
-- Set-wise and index-free: one semi-join finds which of the batch's keys the catalog already
-- knows (_known); rows for new keys are appended, rows for known keys replace their old ones.

-- name: batch_seen
SELECT count(*) FROM batches WHERE digest = ?;

-- name: batch_maybe_stale
-- Whether anything since a batch registered before could have changed its rows: a batch of another run
-- registered after it with samples (or encodings, for one with encodings), or a refresh (its retirements
-- update samples without a batch). Cheap (batches and runs are small): a plain re-run, with only
-- encoded batches since a curated one, skips the scan of batch_current.
SELECT EXISTS (SELECT 1 FROM batches b JOIN batches o ON o.registered_at > b.registered_at AND o.run_id <> b.run_id
               WHERE b.digest = $1 AND ((b.num_samples > 0 AND o.num_samples > 0)
                                        OR (b.num_encodings > 0 AND o.num_encodings > 0)))
    OR EXISTS (SELECT 1 FROM batches b JOIN runs r ON r.flow_name = 'refresh' AND r.started_at > b.registered_at
               WHERE b.digest = $1 AND b.num_samples > 0);

-- name: batch_current
-- A batch registered before whose rows are still the catalog's: none of its samples or encodings was
-- registered since by another run. Not so after a curation with other options and then the first ones
-- again (its shard reused as it was): the rows are the first curation's again, and encode's too.
-- A scan of samples and encodings (~11 ms a batch at 200k samples): asked only after batch_maybe_stale.
SELECT count(*) FROM batches b WHERE b.digest = $1
  AND NOT EXISTS (SELECT 1 FROM samples s JOIN batch_samples x ON s.key = x.key WHERE s.last_run <> b.run_id)
  AND NOT EXISTS (SELECT 1 FROM encodings e JOIN batch_encodings x
                  ON e.key = x.key AND e.encoder_fingerprint = x.encoder_fingerprint AND e.kind = x.kind
                  WHERE e.run_id <> b.run_id);

-- name: forget_batch
DELETE FROM batches WHERE digest = ?;

-- name: record_batch
INSERT INTO batches (digest, run_id, shard_uri, num_samples, num_verdicts, num_encodings, registered_at)
VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: reg_known_keys
CREATE OR REPLACE TEMP TABLE _known AS
SELECT key FROM samples
WHERE key IN (SELECT key FROM batch_samples
              UNION SELECT key FROM batch_verdicts
              UNION SELECT key FROM batch_encodings);

-- name: reg_count_known
SELECT count(*) FROM _known;

-- name: reg_orphans
-- Verdict or encoding keys that name no sample (neither in this batch nor registered): first 3.
SELECT key FROM (SELECT key FROM batch_verdicts UNION SELECT key FROM batch_encodings)
WHERE key NOT IN (SELECT key FROM batch_samples) AND key NOT IN (SELECT key FROM _known)
ORDER BY key
LIMIT 3;

-- name: reg_drop_known
DROP TABLE IF EXISTS _known;

-- name: shard_exists
SELECT count(*) FROM shards WHERE uri = ?;

-- name: insert_shard
INSERT INTO shards (uri, stage, num_samples, bytes, sha256, run_id) VALUES (?, ?, ?, ?, ?, ?);

-- name: update_shard
UPDATE shards SET stage = ?, num_samples = ?, bytes = ?, sha256 = ?, run_id = ? WHERE uri = ?;

-- name: clear_shard_samples
-- A shard registered again (rewritten) gets the membership of its latest batch.
DELETE FROM shard_samples WHERE shard_uri = ?;

-- name: insert_shard_samples
-- The batch's accepted samples: in the pipeline only curate batches have samples, so this lists
-- curated shards; an encoded shard's samples are the keys of the encodings naming it (shard_uri).
INSERT INTO shard_samples (shard_uri, key)
SELECT DISTINCT $1, key FROM batch_samples WHERE status = 'accepted';

-- name: insert_new_samples
INSERT INTO samples (key, modality, source_uri, caption, width, height, frames, duration,
                     sample_rate, split, meta, status, reason, first_run, last_run)
SELECT key, modality, source_uri, caption, width, height, frames, duration,
       sample_rate, split, json_merge_patch(JSON '{}', CAST(meta AS JSON)), status, reason, $1, $1  -- normalised JSON text
FROM batch_samples
WHERE key NOT IN (SELECT key FROM _known)
QUALIFY row_number() OVER (PARTITION BY key ORDER BY _ord DESC) = 1;

-- name: update_known_samples
UPDATE samples SET
    modality = b.modality,
    source_uri = b.source_uri,
    caption = coalesce(b.caption, samples.caption),
    width = coalesce(b.width, samples.width),
    height = coalesce(b.height, samples.height),
    frames = coalesce(b.frames, samples.frames),
    duration = coalesce(b.duration, samples.duration),
    sample_rate = coalesce(b.sample_rate, samples.sample_rate),
    split = b.split,
    meta = json_merge_patch(samples.meta, CAST(b.meta AS JSON)),
    status = b.status,
    reason = b.reason,
    last_run = $1
FROM (SELECT * FROM batch_samples
      WHERE key IN (SELECT key FROM _known)
      QUALIFY row_number() OVER (PARTITION BY key ORDER BY _ord DESC) = 1) AS b
WHERE samples.key = b.key;

-- name: delete_known_verdicts
DELETE FROM verdicts
USING (SELECT DISTINCT key, filter, version FROM batch_verdicts WHERE key IN (SELECT key FROM _known)) AS b
WHERE verdicts.key = b.key AND verdicts.filter = b.filter AND verdicts.filter_version = b.version;

-- name: insert_verdicts
INSERT INTO verdicts (key, filter, filter_version, score, threshold, passed, run_id)
SELECT key, filter, version, score, threshold, passed, $1
FROM batch_verdicts
QUALIFY row_number() OVER (PARTITION BY key, filter, version ORDER BY _ord DESC) = 1;

-- name: delete_known_encodings
DELETE FROM encodings
USING (SELECT DISTINCT key, encoder_fingerprint, kind FROM batch_encodings WHERE key IN (SELECT key FROM _known)) AS b
WHERE encodings.key = b.key AND encodings.encoder_fingerprint = b.encoder_fingerprint AND encodings.kind = b.kind;

-- name: insert_encodings
INSERT INTO encodings (key, encoder_fingerprint, kind, shape, dtype, shard_uri, member, run_id)
SELECT key, encoder_fingerprint, kind, shape, dtype, shard_uri, member, $1
FROM batch_encodings
QUALIFY row_number() OVER (PARTITION BY key, encoder_fingerprint, kind ORDER BY _ord DESC) = 1;
