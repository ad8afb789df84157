-- Manifests: named, versioned, frozen selections of accepted samples with their encodings.

-- name: manifest_candidates_template
-- The one statement with user SQL in it: {where} is replaced by the caller's predicate, which
-- Catalog.create_manifest first checks parses as a single SELECT (see README, "Manifests").
CREATE TEMP TABLE _cand_keys AS
SELECT key
FROM samples
WHERE status = 'accepted' AND ({where});

-- name: manifest_candidates
-- Re-read the candidates from `samples`, so a predicate can never add rows of its own making.
CREATE TEMP TABLE _cand AS
SELECT key, caption, split, meta
FROM samples
WHERE status = 'accepted' AND key IN (SELECT key FROM _cand_keys);

-- name: manifest_candidate_encodings
-- $1: the encoder fingerprints to use (an empty list: every fingerprint found). A kind none of
-- them names keeps all its encoders (one latent encoder picked: the text encoder stays).
CREATE TEMP TABLE _cand_enc AS
SELECT e.key, e.kind, e.encoder_fingerprint, e.shard_uri, e.member
FROM encodings e
JOIN _cand c USING (key)
WHERE len(CAST($1 AS VARCHAR[])) = 0 OR list_contains(CAST($1 AS VARCHAR[]), e.encoder_fingerprint)
   OR e.kind NOT IN (SELECT DISTINCT kind FROM encodings WHERE list_contains(CAST($1 AS VARCHAR[]), encoder_fingerprint));

-- name: manifest_fingerprints
SELECT kind, encoder_fingerprint, count(*) AS samples
FROM _cand_enc
GROUP BY ALL
ORDER BY kind, samples DESC, encoder_fingerprint;

-- name: manifest_select
-- Keep the candidates that have an encoding of every kind the manifest carries ($1 kinds).
CREATE TEMP TABLE _sel AS
SELECT c.key, c.caption, c.split, c.meta
FROM _cand c
LEFT JOIN (SELECT key, count(DISTINCT kind) AS n FROM _cand_enc GROUP BY key) k USING (key)
WHERE coalesce(k.n, 0) = $1;

-- name: manifest_select_encodings
CREATE TEMP TABLE _sel_enc AS
SELECT e.* FROM _cand_enc e WHERE e.key IN (SELECT key FROM _sel);

-- name: manifest_counts
SELECT (SELECT count(*) FROM _cand), (SELECT count(*) FROM _sel);

-- name: manifest_drop_temps
DROP TABLE IF EXISTS _cand_keys; DROP TABLE IF EXISTS _cand; DROP TABLE IF EXISTS _cand_enc; DROP TABLE IF EXISTS _sel; DROP TABLE IF EXISTS _sel_enc;

-- name: live_manifest_selection
-- A live manifest's stored selection and encoder pin (NULL row: the name is not live).
SELECT predicate, CAST(encoders AS VARCHAR) FROM live_manifests WHERE name = ?;

-- name: manifest_latest_version
SELECT max(version) FROM manifests WHERE name = ?;

-- name: manifest_same
-- true when the new selection (_sel, _sel_enc) holds the rows of stored version ($1 name, $2
-- version): equal row counts and equal order-free digests (bit_xor of the rows' 64-bit hashes) on
-- both sides, members and encodings. One streaming pass each; the EXCEPT it replaces built hash
-- tables of both sides (+867 MiB at 361k members).
SELECT (SELECT count(*) FROM _sel) = (SELECT count(*) FROM manifest_members WHERE manifest = $1 AND version = $2)
   AND (SELECT coalesce(bit_xor(hash(key, caption, split, CAST(meta AS VARCHAR))), 0) FROM _sel)
     = (SELECT coalesce(bit_xor(hash(key, caption, split, CAST(meta AS VARCHAR))), 0)
        FROM manifest_members WHERE manifest = $1 AND version = $2)
   AND (SELECT count(*) FROM _sel_enc) = (SELECT count(*) FROM manifest_encodings WHERE manifest = $1 AND version = $2)
   AND (SELECT coalesce(bit_xor(hash(key, kind, encoder_fingerprint, shard_uri, member)), 0) FROM _sel_enc)
     = (SELECT coalesce(bit_xor(hash(key, kind, encoder_fingerprint, shard_uri, member)), 0)
        FROM manifest_encodings WHERE manifest = $1 AND version = $2);

-- name: insert_manifest
INSERT INTO manifests (name, version, predicate, description, encoders, num_members, num_excluded, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?);

-- name: insert_manifest_members
INSERT INTO manifest_members (manifest, version, key, caption, split, meta)
SELECT $1, $2, key, caption, split, meta FROM _sel;

-- name: insert_manifest_encodings
INSERT INTO manifest_encodings (manifest, version, key, kind, encoder_fingerprint, shard_uri, member)
SELECT $1, $2, key, kind, encoder_fingerprint, shard_uri, member FROM _sel_enc;

-- name: manifest_lineage
-- $1 manifest id (name@vN), $2 created_at, $3 name, $4 version: the shards it reads.
INSERT INTO lineage (src_kind, src_id, dst_kind, dst_id, created_at)
SELECT DISTINCT 'shard', shard_uri, 'manifest', $1, $2
FROM (
    SELECT shard_uri FROM manifest_encodings WHERE manifest = $3 AND version = $4
    UNION
    SELECT ss.shard_uri FROM shard_samples ss
    JOIN manifest_members m ON m.key = ss.key
    WHERE m.manifest = $3 AND m.version = $4
      AND NOT EXISTS (SELECT 1 FROM manifest_encodings WHERE manifest = $3 AND version = $4)
)
ON CONFLICT DO NOTHING;

-- name: manifest_header
SELECT name, version, predicate, description, CAST(encoders AS VARCHAR), num_members, num_excluded, created_at
FROM manifests WHERE name = ? AND version = ?;

-- name: manifest_member_rows
SELECT key, caption, split, CAST(meta AS VARCHAR)
FROM manifest_members WHERE manifest = ? AND version = ?
ORDER BY key;

-- name: manifest_encoding_rows
SELECT key, kind, shard_uri, member
FROM manifest_encodings WHERE manifest = ? AND version = ?
ORDER BY key, kind;

-- name: manifest_first_member_rows
SELECT key, caption, split, CAST(meta AS VARCHAR)
FROM manifest_members WHERE manifest = ? AND version = ? AND key IN (SELECT key FROM manifest_first)
ORDER BY key;

-- name: manifest_first_encoding_rows
SELECT key, kind, shard_uri, member
FROM manifest_encodings WHERE manifest = ? AND version = ? AND key IN (SELECT key FROM manifest_first)
ORDER BY key, kind;

-- name: manifest_split_counts
SELECT split, count(*) FROM manifest_members WHERE manifest = ? AND version = ? GROUP BY split ORDER BY split;

-- name: manifest_shard_counts
SELECT kind, count(DISTINCT shard_uri) FROM manifest_encodings WHERE manifest = ? AND version = ? GROUP BY kind;

-- name: manifest_shards
-- Which shards a manifest reads, per kind: its members in each and the shard's recorded size
-- (`manifest show` gave only how many shards; listing them took a query of manifest_encodings).
SELECT me.kind, me.shard_uri, count(*) AS members, any_value(s.bytes) AS bytes
FROM manifest_encodings me LEFT JOIN shards s ON s.uri = me.shard_uri
WHERE me.manifest = ? AND me.version = ?
GROUP BY me.kind, me.shard_uri ORDER BY me.kind, me.shard_uri;

-- name: manifest_first_keys
-- The first members by key, for a listing: the rows of _read_manifest are then read for these only.
CREATE OR REPLACE TEMP TABLE manifest_first AS
SELECT key FROM manifest_members WHERE manifest = ? AND version = ? ORDER BY key LIMIT ?;

-- name: manifest_latent_hashes
-- Per member: the shard of its latent and 64 bits of its key's MD5 (what a streaming loader indexes).
SELECT shard_uri, md5_number_lower(key) AS key_hash
FROM manifest_encodings
WHERE manifest = ? AND version = ? AND kind = 'latent';

-- name: manifest_text_elsewhere_hashes
-- Members whose text features are not beside their latent (same shard, member <key><suffix>), for a
-- streaming loader: key hash, shard, and the member only where it is not <key><suffix>.
SELECT md5_number_lower(t.key) AS key_hash, t.shard_uri, CASE WHEN t.member = t.key || $3 THEN NULL ELSE t.member END AS member
FROM manifest_encodings t
LEFT JOIN manifest_encodings l ON l.manifest = t.manifest AND l.version = t.version AND l.key = t.key AND l.kind = 'latent'
WHERE t.manifest = $1 AND t.version = $2 AND t.kind = 'text'
  AND (l.shard_uri IS DISTINCT FROM t.shard_uri OR t.member <> t.key || $3);

-- name: manifest_list
-- live: the name is a live manifest's, one every refresh re-freezes (live_manifests)
SELECT m.name, m.version, m.num_members, m.num_excluded, CAST(m.encoders AS VARCHAR) AS encoders, m.created_at,
       m.predicate, l.name IS NOT NULL AS live
FROM manifests m
LEFT JOIN live_manifests l ON l.name = m.name
ORDER BY m.name, m.version;

-- name: manifest_export
-- One row per member; encodings as a list of structs (one per kind).
SELECT m.key, m.caption, m.split, CAST(m.meta AS VARCHAR) AS meta,
       list({'kind': e.kind, 'encoder_fingerprint': e.encoder_fingerprint,
             'shard_uri': e.shard_uri, 'member': e.member} ORDER BY e.kind)
           FILTER (WHERE e.kind IS NOT NULL) AS encodings
FROM manifest_members m
LEFT JOIN manifest_encodings e
       ON e.manifest = m.manifest AND e.version = m.version AND e.key = m.key
WHERE m.manifest = $1 AND m.version = $2
GROUP BY ALL
ORDER BY m.key;

-- name: manifest_predicate_count_template
-- Validation and dry run of a predicate ({where} as above); runs on a read-only connection in the CLI.
SELECT count(*) FROM samples WHERE status = 'accepted' AND ({where});
