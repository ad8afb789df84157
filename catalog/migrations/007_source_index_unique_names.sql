-- Version 7: one source_index row per (source, modality, name), as 005 meant (its comment says
-- "unique (source, modality, name)"). A listing that yielded a name twice (a tar member appended
-- again with tar -r, a listing naming one file in two rows, two tars of one file name under one
-- glob) inserted the name twice, and every later refresh found the two rows different, curated the
-- input again and rewrote both rows with one of the two versions. Listings now yield each name once
-- (preprocess/sources.py: the last one keeps the name, earlier ones are shadowed_by_later_entry
-- entries of their own; same-named tars are named by their path), so one row per name is kept:
-- the present one over a removed one, then the one seen last; ties broken on every column, so the
-- choice does not depend on storage order. Its content hash becomes 'repeated:' (no sha256 is
-- that) and its mtime NULL, so the next refresh hashes the entry listed now by that name, finds
-- it changed and curates its input again, whichever version the index held: the samples the
-- earlier copies made at the same origin are superseded by the sample of the one kept, and the
-- earlier copies are recorded as shadowed_by_later_entry.
-- Uniqueness is then kept by the refresh and verified by `lumina catalog check`
-- (check_source_index_unique), as for the other large tables: no ART index (catalog/README.md,
-- "Why no indexes"). Idempotent: with no duplicates it changes nothing.
UPDATE source_index SET content_hash = 'repeated:', mtime_ns = NULL
FROM (SELECT source, modality, name FROM source_index GROUP BY ALL HAVING count(*) > 1) AS repeated
WHERE source_index.source = repeated.source AND source_index.modality = repeated.modality
  AND source_index.name = repeated.name;

DELETE FROM source_index
WHERE rowid IN (
    SELECT rowid FROM (
        SELECT rowid, row_number() OVER (
            PARTITION BY source, modality, name
            ORDER BY status = 'present' DESC, last_seen DESC, first_seen DESC, content_hash, uri,
                     input_name NULLS FIRST, size, mtime_ns NULLS FIRST, removed_at NULLS FIRST, run_id NULLS FIRST) AS copy
        FROM source_index)
    WHERE copy > 1);
