-- A refresh's listing, staged in a scratch DuckDB file beside the catalog (never in it), and its
-- diff against the source index (catalog/source_index.py, ListingStage). The source's entries
-- stream in as Arrow batches, so tens of millions of entries are never held in Python several times
-- over; each statement below is one pass the planner (preprocess/refresh.py) used to make in Python.
--
-- Tables: idx (the source's index rows, copied from the catalog), blobs (every entry with its
-- size and mtime: the listed ones, then those only grouping made), members (each input's entries,
-- then each leftover's entry, in that order: ord), inputs and leftovers (by their position in the
-- grouping's lists), hashes (the content hashes computed now), source_samples (the origins of the
-- source's samples in the catalog), and what stage_finish derives.

-- name: stage_schema
CREATE TABLE idx (name VARCHAR, uri VARCHAR, input_name VARCHAR, size BIGINT, mtime_ns BIGINT,
                  content_hash VARCHAR, status VARCHAR, also_inputs VARCHAR[]);
CREATE TABLE blobs (pos BIGINT, name VARCHAR, uri VARCHAR, size BIGINT, mtime_ns BIGINT);
CREATE TABLE members (ord BIGINT, name VARCHAR, input_name VARCHAR);
CREATE TABLE inputs (idx BIGINT, name VARCHAR, uri VARCHAR);
CREATE TABLE leftovers (idx BIGINT, name VARCHAR, uri VARCHAR);
CREATE TABLE hashes (pos BIGINT, content_hash VARCHAR);
CREATE TABLE source_samples (uri VARCHAR);

-- name: index_rows_of_source
-- Every index row of source $1 (modality $2), present or removed: copied into a listing stage.
SELECT name, uri, input_name, size, mtime_ns, content_hash, status, also_inputs
FROM source_index
WHERE source = $1 AND modality = $2;

-- name: stage_known
-- What the index knows of the present entries: one row per name (a listing that names a file twice
-- put it in the index twice), as the name -> signature dict it replaces kept one.
CREATE TABLE known AS
SELECT DISTINCT ON (name) name, size, mtime_ns, content_hash
FROM idx WHERE status = 'present';

-- name: stage_aside_count
-- The present index rows under the folders the listing could not read ($1: their names, each with a
-- trailing /), which stage_set_aside leaves out of the diff.
SELECT count(*) FROM idx
WHERE status = 'present' AND EXISTS (SELECT 1 FROM unnest(CAST($1 AS VARCHAR[])) AS p(prefix) WHERE starts_with(idx.name, p.prefix));

-- name: stage_set_aside
-- Those rows (present or removed) leave the stage: neither gone nor seen, the catalog's rows stay as they are.
DELETE FROM idx WHERE EXISTS (SELECT 1 FROM unnest(CAST($1 AS VARCHAR[])) AS p(prefix) WHERE starts_with(idx.name, p.prefix));

-- name: stage_made_blobs
-- The members that are no listed entry (an LJSpeech metadata line made a caption of its own): the
-- first of each name, by ord.
SELECT ord FROM members m
WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.name = m.name)
QUALIFY row_number() OVER (PARTITION BY name ORDER BY ord) = 1
ORDER BY ord;

-- name: stage_to_hash
-- Entries whose bytes must be hashed: new to the index, or their size or mtime moved (make's rule;
-- an entry without an mtime, inline or unreadable, is always hashed; so is one gone when last hashed,
-- preprocess/refresh.py's VANISHED, should it come back with the same size and mtime).
SELECT b.pos FROM blobs b LEFT JOIN known k USING (name)
WHERE k.name IS NULL OR k.size <> b.size OR k.mtime_ns IS NULL OR b.mtime_ns IS NULL OR k.mtime_ns <> b.mtime_ns
   OR k.content_hash = 'vanished:'
ORDER BY b.pos;

-- name: stage_finish
-- The listing (every blob with its input and content hash) and its diff against the index: the
-- entries changed (new, back after a removal, other bytes, another input) and removed (present in
-- the index, gone from the listing). An entry's input: the last input that has it; also_inputs: the
-- others that have it (sorted; NULL when none), so that its removal curates them again as well.
CREATE TABLE owners AS
SELECT name, input_name, nullif(list_sort(list_filter(everyone, lambda x: x <> input_name)), []) AS also_inputs
FROM (SELECT name, arg_max(input_name, ord) AS input_name, list(DISTINCT input_name) AS everyone
      FROM members WHERE input_name IS NOT NULL GROUP BY name);
CREATE TABLE listing AS
SELECT b.pos, b.name, b.uri, o.input_name, b.size, b.mtime_ns, coalesce(h.content_hash, k.content_hash) AS content_hash,
       o.also_inputs
FROM blobs b LEFT JOIN owners o USING (name) LEFT JOIN hashes h USING (pos) LEFT JOIN known k USING (name);
CREATE TABLE changed AS
SELECT l.name FROM listing l LEFT JOIN idx i USING (name)
WHERE i.name IS NULL OR i.status = 'removed' OR i.content_hash <> l.content_hash
   OR i.input_name IS DISTINCT FROM l.input_name;
CREATE TABLE removed AS
SELECT i.name, i.uri, i.input_name, i.input_name IS NULL OR i.input_name NOT IN (SELECT name FROM inputs) AS input_left,
       i.also_inputs
FROM idx i WHERE i.status = 'present' AND i.name NOT IN (SELECT name FROM listing);

-- name: stage_counts
SELECT (SELECT count(DISTINCT name) FROM changed), (SELECT count(*) FROM removed),
       (SELECT count(DISTINCT coalesce(nullif(input_name, ''), name)) FROM removed WHERE input_left),
       (SELECT count(*) FROM idx WHERE status = 'present');

-- name: stage_touched_inputs
-- Inputs to curate again: one with an entry changed, or whose caption left (its owner's or one it
-- shared with the owner: also_inputs, whether or not the owner left too), or (with $1) a twin of an
-- input that left (same bytes in every entry: its sample moves there instead of being removed).
WITH twins AS (
    SELECT now.input_name AS name
    FROM (SELECT r.input_name, list_sort(list(k.content_hash)) AS sig
          FROM removed r JOIN known k USING (name)
          WHERE r.input_name IS NOT NULL AND r.input_left GROUP BY r.input_name) gone
    JOIN (SELECT input_name, list_sort(list(content_hash)) AS sig
          FROM listing WHERE input_name IS NOT NULL AND $1 GROUP BY input_name) now USING (sig)
), touched AS (
    SELECT input_name AS name FROM removed WHERE NOT input_left
    UNION SELECT unnest(also_inputs) FROM removed
    UNION SELECT m.input_name FROM changed JOIN members m USING (name) WHERE m.input_name IS NOT NULL
    UNION SELECT name FROM twins
)
SELECT idx FROM inputs WHERE name IN (SELECT name FROM touched) ORDER BY idx;

-- name: stage_gone_inputs_left
-- Whether an input left with entries the index knows (then its twins are looked for).
SELECT count(*) > 0 FROM removed WHERE input_name IS NOT NULL AND input_left;

-- name: stage_changed_leftovers
SELECT idx FROM leftovers WHERE name IN (SELECT name FROM changed) ORDER BY idx;

-- name: stage_removed_uris
-- The origins of entries gone whose input is gone too (or that were leftovers).
SELECT DISTINCT uri FROM removed WHERE input_left ORDER BY uri;

-- name: stage_samples_gone
-- The source's samples (source_samples: samples_of_source, streamed in from the catalog) whose
-- origin is in the source no more: not among the listing's entries, the inputs (a multiview folder
-- is none of its entries) or the leftovers.
SELECT DISTINCT uri FROM source_samples
WHERE uri NOT IN (SELECT uri FROM listing UNION ALL SELECT uri FROM inputs UNION ALL SELECT uri FROM leftovers)
ORDER BY uri;

-- name: stage_index_gone
-- What commit_listing writes (source_index.sql: index_*): the names of the present entries gone,
SELECT DISTINCT name FROM removed;

-- name: stage_index_updates
-- the listed entries the index has with another signature, input, other inputs or uri, or as removed,
SELECT l.name, l.uri, l.input_name, l.size, l.mtime_ns, l.content_hash, l.also_inputs
FROM listing l JOIN idx i USING (name)
WHERE i.status = 'removed' OR i.uri <> l.uri OR i.input_name IS DISTINCT FROM l.input_name OR i.size <> l.size
   OR i.mtime_ns IS DISTINCT FROM l.mtime_ns OR i.content_hash <> l.content_hash
   OR i.also_inputs IS DISTINCT FROM l.also_inputs
ORDER BY l.pos;

-- name: stage_index_new
-- and the entries new to it (in no order: a first refresh's are the whole listing, not sorted for nothing).
SELECT name, uri, input_name, size, mtime_ns, content_hash, also_inputs FROM listing
WHERE name NOT IN (SELECT name FROM idx);

-- name: stage_names_of
-- uri -> name of the input (else the leftover) at each of the uris of the registered wanted_uris: the last one of the grouping.
SELECT uri, name FROM (SELECT uri, name, 1 AS rank, idx FROM inputs UNION ALL SELECT uri, name, 0, idx FROM leftovers)
WHERE uri IN (SELECT uri FROM wanted_uris)
QUALIFY row_number() OVER (PARTITION BY uri ORDER BY rank DESC, idx DESC) = 1;

-- name: stage_listed_uris
-- Which of the uris of the registered wanted_uris the source lists now: an entry's, an input's or a leftover's.
SELECT DISTINCT uri FROM (SELECT uri FROM blobs UNION ALL SELECT uri FROM inputs UNION ALL SELECT uri FROM leftovers)
WHERE uri IN (SELECT uri FROM wanted_uris);

-- name: stage_moved_inputs
-- How many of the inputs and leftovers gone by name (stage_counts' removed_inputs) are listed still
-- under another name: each of their gone entries' uris is among the registered wanted_uris.
SELECT count(*) FROM (
    SELECT coalesce(nullif(input_name, ''), name) AS input FROM removed WHERE input_left
    GROUP BY input HAVING bool_and(uri IN (SELECT uri FROM wanted_uris)));

-- name: stage_unindexed_inputs
-- Inputs none of whose entries the index has ever listed (a first refresh of a source that `lumina
-- curate` took in: all of them), by position: the only ones whose catalog samples a refresh asks
-- about before curating (ListingStage.catalogued).
SELECT i.idx FROM inputs i
WHERE NOT EXISTS (SELECT 1 FROM members m JOIN idx x ON x.name = m.name WHERE m.input_name = i.name)
ORDER BY i.idx;
