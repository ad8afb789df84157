-- The full story of one sample: `lumina catalog why KEY`.

-- name: why_resolve_key
-- An exact key, or the keys starting with the given prefix (at most 2: unique or ambiguous).
SELECT key FROM samples WHERE key = $1
UNION ALL
(SELECT key FROM samples WHERE starts_with(key, $1) AND key <> $1 ORDER BY key LIMIT 2);

-- name: why_resolve_file
-- The samples that came from a file: its absolute path $1 exactly, else a source_uri ending in
-- '/' || $2 (a path relative to the source; a tar member's as <tar>/<member>, a listing row's as
-- <listing>#<row>, as reasons print it, or <listing>/<row>); only modality $3 unless NULL. The most
-- telling first (why_same_file's order).
SELECT key, source_uri, status FROM samples
WHERE ($3 IS NULL OR modality = $3)
  AND (source_uri = $1 OR (NOT EXISTS (SELECT 1 FROM samples WHERE source_uri = $1 AND ($3 IS NULL OR modality = $3))
                           AND ends_with(replace(source_uri, '#', '/'), '/' || replace($2, '#', '/'))))
ORDER BY status <> 'accepted', status IN ('superseded', 'removed'), starts_with(coalesce(reason, ''), 'unsupported_type'),
         last_run DESC, key
LIMIT 50;

-- name: why_listing_lines
-- The samples that are lines of a listing file (a transcript listing's rows, source_uri
-- <listing>#<row>) given by its absolute path $1 or its path in the source $2, only modality $3
-- unless NULL: `why metadata.csv` found no sample of the file itself. Per status, with the listing's
-- uri and one line's: what the refusal names.
SELECT split_part(source_uri, '#', 1) AS listing, status, count(*) AS lines, min(source_uri) AS example
FROM samples
WHERE ($3 IS NULL OR modality = $3) AND contains(source_uri, '#')
  AND (split_part(source_uri, '#', 1) = $1 OR ends_with(split_part(source_uri, '#', 1), '/' || $2))
GROUP BY ALL
ORDER BY listing, status;

-- name: why_same_file
-- The other samples from sample $1's file (a video's scenes; the rows of a refresh under another
-- modality), with how many there are: accepted first, then quarantined and rejected, a modality's
-- unsupported_type after those (the file went to the wrong modality), retired ones last; the newest first.
-- One scan filtered by the file's uri, no self-join (which hashed every sample's source_uri).
SELECT key, modality, status, reason, last_run, count(*) OVER () AS total
FROM samples
WHERE source_uri = (SELECT source_uri FROM samples WHERE key = $1) AND key <> $1
ORDER BY status <> 'accepted', status IN ('superseded', 'removed'),
         starts_with(coalesce(reason, ''), 'unsupported_type'), last_run DESC, key
LIMIT $2;

-- name: why_sample
SELECT key, modality, status, reason, source_uri, caption, width, height, frames, duration,
       sample_rate, split, CAST(meta AS VARCHAR) AS meta, first_run, last_run
FROM samples WHERE key = ?;

-- name: why_verdicts
SELECT filter, filter_version, score, threshold, passed, run_id
FROM verdicts WHERE key = ?
ORDER BY passed, filter, filter_version;

-- name: why_shards
SELECT uri, stage, num_samples, bytes, sha256, run_id
FROM shards
WHERE uri IN (SELECT shard_uri FROM shard_samples WHERE key = $1
              UNION SELECT shard_uri FROM encodings WHERE key = $1)
ORDER BY stage, uri;

-- name: why_encodings
SELECT kind, encoder_fingerprint, CAST(shape AS VARCHAR) AS shape, dtype, shard_uri, member, run_id
FROM encodings WHERE key = ?
ORDER BY kind, encoder_fingerprint;

-- name: why_manifests
SELECT m.manifest, m.version, f.created_at, f.predicate
FROM manifest_members m
JOIN manifests f ON f.name = m.manifest AND f.version = m.version
WHERE m.key = ?
ORDER BY m.manifest, m.version;

-- name: why_checkpoints
SELECT c.checkpoint_id, c.uri, c.step, c.manifest, c.manifest_version, c.run_id
FROM checkpoints c
JOIN manifest_members m ON m.manifest = c.manifest AND m.version = c.manifest_version
WHERE m.key = ?
ORDER BY c.created_at, c.checkpoint_id;

-- name: why_status_changes
-- What refreshes did to it: superseded, removed, back again.
SELECT changed_at, old_status, new_status, reason, superseded_by, run_id
FROM sample_status_changes WHERE key = ?
ORDER BY changed_at;

-- name: why_runs
-- The runs that registered it first and last, and every refresh that changed its status.
SELECT run_id, flow_name, status, code_version, started_at, ended_at
FROM runs
WHERE run_id IN ($2, $3) OR run_id IN (SELECT run_id FROM sample_status_changes WHERE key = $1)
ORDER BY started_at;

-- name: why_reason_samples
-- The samples a reason names by key ($1: the keys in it): the kept one of a duplicate
-- (`near duplicate of KEY`, `same content as KEY`), the one that superseded it. Only their key
-- was printed, so which file a copy was dropped for took a second `why`.
SELECT key, modality, status, source_uri FROM samples WHERE list_contains($1, key) ORDER BY key;

-- name: why_checkpoint_named
-- A checkpoint given to `why` in place of a sample: what it trained on, for the refusal to name.
-- $1: what was given; $2: the paths it may name a checkpoint by (as given and absolute, and their folders).
SELECT c.checkpoint_id, c.manifest, c.manifest_version, m.num_members
FROM checkpoints c LEFT JOIN manifests m ON m.name = c.manifest AND m.version = c.manifest_version
WHERE c.checkpoint_id = $1 OR list_contains($2, c.uri)
ORDER BY c.checkpoint_id = $1 DESC, c.uri = $1 DESC, length(c.uri) DESC LIMIT 1;
