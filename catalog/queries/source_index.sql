-- Source index, sample retirement and live manifests (catalog/source_index.py; issue 15).
-- A refresh's listing is staged and diffed in a scratch DuckDB file (listing_stage.sql); what
-- changed comes here as Arrow views with the columns name, uri, input_name, size, mtime_ns,
-- content_hash.

-- name: samples_of_source
-- The origins of the samples of source $1 (modality $2) not yet retired, one row per sample (a
-- stream: no DISTINCT, whose hash table would hold them all). A sample is the source's when its
-- origin lies within the source ($3: path prefixes, $4: regular expressions for tar globs) or
-- when a curate, refresh or data_to_model run of this source registered it last: so what
-- `lumina curate` took in before the first refresh is retired as well, not only what the index saw.
-- Those whose origin is not in the source now are gone (samples_gone_from_source).
-- catalog/source_selection.py writes the same rule as a manifest predicate (data_to_model on a source): change both.
SELECT s.source_uri
FROM samples s
WHERE s.modality = $2 AND s.status NOT IN ('removed', 'superseded')
  AND (EXISTS (SELECT 1 FROM unnest(CAST($3 AS VARCHAR[])) AS p(prefix) WHERE starts_with(s.source_uri, p.prefix))
       OR EXISTS (SELECT 1 FROM unnest(CAST($4 AS VARCHAR[])) AS g(pattern) WHERE regexp_full_match(s.source_uri, g.pattern))
       OR s.last_run IN (SELECT run_id FROM runs WHERE flow_name IN ('curate', 'refresh', 'data_to_model')
                         AND parameters->>'source' = $1));


-- The listing is recorded from what its ListingStage found changed (listing_stage.sql: stage_index_*),
-- so a refresh writes work in proportion to what changed, not a join of the whole listing with
-- the whole index: entries gone are marked removed, entries with a new signature, input (or other
-- inputs) or status are updated, every entry still present is seen now, new entries are inserted.

-- name: index_mark_removed
-- The present entries named in the Arrow view `gone` (name).
UPDATE source_index SET status = 'removed', removed_at = $3, run_id = $4
WHERE source = $1 AND modality = $2 AND status = 'present'
  AND name IN (SELECT name FROM gone);

-- name: index_update_known
-- Known entries with a new signature or input, or back after a removal (the Arrow view `listing`:
-- those rows of the listing): their run is this refresh when their bytes, input or status changed.
UPDATE source_index SET
    uri = l.uri, input_name = l.input_name, size = l.size, mtime_ns = l.mtime_ns,
    content_hash = l.content_hash, also_inputs = l.also_inputs, last_seen = $3,
    status = 'present', removed_at = NULL,
    run_id = CASE WHEN source_index.status = 'removed' OR source_index.content_hash <> l.content_hash
                       OR source_index.input_name IS DISTINCT FROM l.input_name THEN $4 ELSE source_index.run_id END
FROM listing l
WHERE source_index.source = $1 AND source_index.modality = $2 AND source_index.name = l.name;

-- name: index_mark_seen
-- After the two above, the present entries are exactly those listed now.
UPDATE source_index SET last_seen = $3
WHERE source = $1 AND modality = $2 AND status = 'present' AND last_seen <> $3;

-- name: index_insert_new
-- Entries new to the index (the Arrow view `new_entries`).
INSERT INTO source_index (source, modality, name, uri, input_name, size, mtime_ns, content_hash,
                          first_seen, last_seen, status, removed_at, run_id, also_inputs)
SELECT $1, $2, l.name, l.uri, l.input_name, l.size, l.mtime_ns, l.content_hash, $3, $3, 'present', NULL, $4, l.also_inputs
FROM new_entries l;

-- name: index_entries
SELECT name, uri, input_name, size, mtime_ns, content_hash, first_seen, last_seen, status, removed_at, run_id
FROM source_index
WHERE source = $1 AND modality = $2
ORDER BY name;

-- name: current_samples_of_uris
-- Samples of modality $1 still current (not removed or superseded) whose input is one of the uris
-- of the Arrow view `wanted` (a list parameter of a million uris took 450 MB to bind). Only of that
-- modality: a refresh with the wrong --modality sees the same files (and records them rejected)
-- but never retires another modality's samples.
SELECT key, status, reason, source_uri
FROM samples
WHERE source_uri IN (SELECT uri FROM wanted)
  AND modality = $1
  AND status NOT IN ('removed', 'superseded')
ORDER BY source_uri, key;

-- name: current_keys_among
-- key -> source_uri of the current (not retired) samples of modality $2 among the keys $1: accepted,
-- rejected or quarantined (a rejected sample's file keeps its row as an accepted one's does), and its status.
SELECT key, source_uri, status
FROM samples
WHERE key IN (SELECT unnest(CAST($1 AS VARCHAR[])))
  AND modality = $2
  AND status NOT IN ('removed', 'superseded')
ORDER BY key;

-- name: wrongly_superseded
-- Samples of modality $1 superseded by a record that cannot replace them: one of another modality
-- or a rejected unsupported_type record (what a refresh with the wrong --modality did before it
-- was kept to its own modality). Their supersession is undone.
SELECT s.key
FROM samples s
JOIN sample_status_changes c ON c.key = s.key AND c.new_status = 'superseded'
JOIN samples b ON b.key = c.superseded_by
WHERE s.modality = $1 AND s.status = 'superseded'
  AND (b.modality <> s.modality OR starts_with(coalesce(b.reason, ''), 'unsupported_type'))
  AND c.changed_at = (SELECT max(changed_at) FROM sample_status_changes WHERE key = s.key)
ORDER BY s.key;

-- name: record_status_changes
-- One row per sample in the Arrow view `changes` (key, status, reason, change_reason,
-- superseded_by): its status and reason before ($1: when, $2: the run). Set-based: a statement per
-- key scanned the whole samples table each time (55 ms a key at 1M samples).
INSERT INTO sample_status_changes (key, old_status, old_reason, new_status, reason, superseded_by, changed_at, run_id)
SELECT s.key, s.status, s.reason, c.status, c.change_reason, c.superseded_by, $1, $2
FROM samples s JOIN changes c USING (key);

-- name: set_sample_statuses
UPDATE samples SET status = c.status, reason = c.reason, last_run = $1
FROM changes c WHERE samples.key = c.key;

-- name: statuses_before_retirement
-- Of the keys $1, those a refresh retired (removed or superseded), with the status and reason
-- each had before its latest retirement.
SELECT key, old_status, old_reason FROM (
    SELECT c.key, c.old_status, c.old_reason,
           row_number() OVER (PARTITION BY c.key ORDER BY c.changed_at DESC) AS latest
    FROM sample_status_changes c
    JOIN samples s ON s.key = c.key AND s.status IN ('removed', 'superseded')
    WHERE c.key IN (SELECT unnest(CAST($1 AS VARCHAR[]))) AND c.new_status IN ('removed', 'superseded')
)
WHERE latest = 1
ORDER BY key;

-- name: upsert_live_manifest
INSERT INTO live_manifests (name, predicate, description, train_min_growth, train_options, trained_version, created_at, updated_at, encoders)
VALUES ($1, $2, $3, $4, $5, NULL, $6, $6, $7)
ON CONFLICT (name) DO UPDATE SET
    predicate = excluded.predicate, description = excluded.description,
    train_min_growth = excluded.train_min_growth, train_options = excluded.train_options,
    updated_at = excluded.updated_at, encoders = excluded.encoders
WHERE live_manifests.predicate <> excluded.predicate OR live_manifests.description <> excluded.description
   OR live_manifests.train_min_growth IS DISTINCT FROM excluded.train_min_growth
   OR CAST(live_manifests.train_options AS VARCHAR) <> CAST(excluded.train_options AS VARCHAR)
   OR CAST(live_manifests.encoders AS VARCHAR) IS DISTINCT FROM CAST(excluded.encoders AS VARCHAR);

-- name: live_manifest_rows
SELECT name, predicate, description, train_min_growth, CAST(train_options AS VARCHAR), trained_version, CAST(encoders AS VARCHAR)
FROM live_manifests
ORDER BY name;

-- name: set_trained_version
UPDATE live_manifests SET trained_version = $2, updated_at = $3 WHERE name = $1;

-- name: consume_trained_version
-- A due training of version $2 announced: its growth is consumed (never moved back by a late consume).
UPDATE live_manifests SET trained_version = $2, updated_at = $3
WHERE name = $1 AND (trained_version IS NULL OR trained_version < $2);

-- name: manifest_version_before
-- The version of manifest $1 before version $2, and its member count (none: no row).
SELECT version, num_members FROM manifests WHERE name = $1 AND version < $2 ORDER BY version DESC LIMIT 1;

-- name: train_runs_of_manifest_version
-- Training runs on version $2 of manifest $1 that did not fail (running, completed, cancelled).
SELECT count(*) FROM runs
WHERE flow_name = 'train' AND status <> 'failed'
  AND parameters->>'manifest' = $1 AND TRY_CAST(parameters->>'manifest_version' AS INTEGER) = $2;

-- name: manifest_added_members
-- Members of version $2 of manifest $1 that version $3 did not have.
SELECT count(*) FROM manifest_members
WHERE manifest = $1 AND version = $2
  AND key NOT IN (SELECT key FROM manifest_members WHERE manifest = $1 AND version = $3);

-- name: last_curation_of_source
-- The parameters of the latest completed curate, refresh or data_to_model run (`lumina demo --source`,
-- its curate_options as options, its source_options (caption_column, ...) at the top as curate's) of
-- source $1 (absolute) in modality
-- $2: the curation options a refresh of that source reuses unless it is given its own. Runs before
-- 53e8a79 recorded the source as typed: a relative one counts when $1 ends with it (an exact
-- match wins).
SELECT CAST(CASE WHEN flow_name = 'data_to_model'  -- its curate stage's options are its curate_options
                 THEN json_merge_patch(
                        json_merge_patch(parameters, CASE WHEN json_type(parameters->'source_options') = 'OBJECT'
                                                          THEN parameters->'source_options' ELSE JSON '{}' END),
                        json_object('options', coalesce(parameters->'curate_options', JSON '{}')))
                 ELSE parameters END AS VARCHAR)
FROM runs
WHERE flow_name IN ('curate', 'refresh', 'data_to_model') AND status = 'completed'
  AND coalesce(parameters->>'modality', 'image') = $2
  AND (parameters->>'source' = $1
       OR (NOT starts_with(parameters->>'source', '/')
           AND ends_with($1, '/' || rtrim(regexp_replace(parameters->>'source', '^(\./)+', ''), '/'))))
ORDER BY (parameters->>'source' = $1) DESC, started_at DESC
LIMIT 1;

-- name: near_copies_of
-- Rejected near duplicates (meta near_duplicate_of) of the current samples of modality $1 whose
-- inputs ($2: source_uri list) leave the source: they are curated again.
SELECT DISTINCT r.source_uri
FROM samples r
JOIN samples k ON k.key = r.meta->>'near_duplicate_of'
WHERE r.modality = $1 AND r.status = 'rejected'  -- any modality's near-duplicate filter sets meta near_duplicate_of
  AND k.status IN ('accepted', 'quarantined') AND list_contains(CAST($2 AS VARCHAR[]), k.source_uri)
ORDER BY r.source_uri;

-- name: current_samples_at_uris
-- The current samples (not retired) of modality $1 whose input is one of the uris of the Arrow view
-- `wanted`, each with whether any encoding of its key is registered: a refresh leaves an input
-- unchanged since a `lumina curate` alone when it gave exactly one such sample, of the key its
-- bytes and caption make now, and (accepted) encoded (preprocess/refresh.py).
SELECT s.source_uri, s.key, s.status, EXISTS (SELECT 1 FROM encodings e WHERE e.key = s.key) AS encoded
FROM samples s
WHERE s.source_uri IN (SELECT uri FROM wanted)
  AND s.modality = $1
  AND s.status NOT IN ('removed', 'superseded');

-- name: record_moves
-- Each move (registered table `moves`: key, old_uri, new_uri) as a status change that changes no
-- status ($1: when, $2: the run), where the sample is still current at its old uri. Returns how many.
INSERT INTO sample_status_changes (key, old_status, old_reason, new_status, reason, superseded_by, changed_at, run_id)
SELECT s.key, s.status, s.reason, s.status, 'moved: from ' || m.old_uri, NULL, $1, $2
FROM samples s JOIN moves m ON s.key = m.key AND s.source_uri = m.old_uri AND s.status NOT IN ('removed', 'superseded');

-- name: set_moved_uris
-- Each moved sample (registered table `moves`) at its new uri, last registered by run $1.
UPDATE samples SET source_uri = m.new_uri, last_run = $1
FROM moves m
WHERE samples.key = m.key AND samples.source_uri = m.old_uri AND samples.status NOT IN ('removed', 'superseded');

-- name: exact_copies_of
-- The rejected exact_duplicate rows (as_exact_duplicate's reason names the original's key) of
-- modality $1 whose original is a current sample of an input of $2 (source_uri list).
SELECT DISTINCT r.source_uri
FROM samples r
JOIN samples k ON r.reason = 'exact_duplicate: same content as ' || k.key
WHERE r.modality = $1 AND r.status = 'rejected' AND starts_with(r.reason, 'exact_duplicate: ') AND k.modality = $1
  AND k.status IN ('accepted', 'quarantined') AND list_contains(CAST($2 AS VARCHAR[]), k.source_uri)
ORDER BY r.source_uri;
