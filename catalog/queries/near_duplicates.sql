-- Near-duplicate search across runs (catalog/near_duplicates.py).

-- name: near_duplicate_candidates
-- Accepted samples of modality $1 whose stored 256-bit pHash (meta phash, 64 hex digits) shares a
-- 16-bit band with a candidate's and lies within Hamming distance $2 of it. The Arrow view
-- candidate_bands holds each candidate's bands (band, value as 4 hex digits) beside its whole hash
-- as four 64-bit words (h0 the highest). The distance is computed here: sharing a band alone
-- matched almost every sample of a large catalog (10k candidates fill 15% of each band's values),
-- and all of them went to Python.
WITH known AS (
    SELECT s.key, s.source_uri, s.meta->>'phash' AS phash, s.meta->>'colour_signature' AS colour
    FROM samples s
    WHERE s.modality = $1 AND s.status = 'accepted'
      AND s.meta->>'phash' IS NOT NULL AND s.meta->>'colour_signature' IS NOT NULL
),
known_bands AS (
    SELECT k.key, k.source_uri, k.phash, k.colour, r.b AS band, substr(k.phash, 61 - 4 * r.b, 4) AS value
    FROM known k CROSS JOIN range(16) AS r(b)
)
SELECT DISTINCT kb.key, kb.source_uri, kb.phash, kb.colour
FROM known_bands kb
JOIN candidate_bands c ON c.band = kb.band AND c.value = kb.value
WHERE bit_count(xor(('0x' || substr(kb.phash, 1, 16))::UBIGINT, c.h0))
    + bit_count(xor(('0x' || substr(kb.phash, 17, 16))::UBIGINT, c.h1))
    + bit_count(xor(('0x' || substr(kb.phash, 33, 16))::UBIGINT, c.h2))
    + bit_count(xor(('0x' || substr(kb.phash, 49, 16))::UBIGINT, c.h3)) <= $2
ORDER BY kb.key;

-- name: stored_meta_of_keys
-- Meta field $2 (a JSON path, '$.name') as text, of the samples among keys $1 that have it.
SELECT key, json_extract_string(meta, $2) FROM samples
WHERE list_contains($1, key) AND json_extract_string(meta, $2) IS NOT NULL;

-- name: accepted_in_curated_shards
-- Accepted samples of modality $1 whose duration lies in one of the windows of the Arrow view
-- duration_windows (lo, hi: closed, in seconds, disjoint), with the curated shard that holds each:
-- of several, the one the latest run registered (then the greatest uri). A sample in no curated
-- shard is left out.
SELECT s.key, s.source_uri, s.duration, sh.uri
FROM samples s
JOIN duration_windows w ON s.duration BETWEEN w.lo AND w.hi
JOIN shard_samples ss ON ss.key = s.key
JOIN shards sh ON sh.uri = ss.shard_uri AND sh.stage = 'curated'
LEFT JOIN runs r ON r.run_id = sh.run_id
WHERE s.modality = $1 AND s.status = 'accepted'
QUALIFY row_number() OVER (PARTITION BY s.key ORDER BY r.started_at DESC NULLS LAST, sh.uri DESC) = 1
ORDER BY sh.uri, s.key;
