-- Near-duplicate search across runs (catalog/near_duplicates.py).

-- name: near_duplicate_candidates
-- Accepted samples of modality $1 whose stored 256-bit pHash (meta phash, 64 hex digits) shares a
-- 16-bit band with a candidate's (the Arrow view candidate_bands: band, value as 4 hex digits).
SELECT DISTINCT s.key, s.source_uri, s.meta->>'phash', s.meta->>'colour_signature'
FROM samples s
CROSS JOIN range(16) AS r(b)
JOIN candidate_bands c ON c.band = r.b AND c.value = substr(s.meta->>'phash', 61 - 4 * r.b, 4)
WHERE s.modality = $1 AND s.status = 'accepted' AND s.meta->>'phash' IS NOT NULL
  AND s.meta->>'colour_signature' IS NOT NULL
ORDER BY s.key;
