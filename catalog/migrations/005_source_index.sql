-- Version 5: incremental refresh (issue 15).
--   * samples may be 'removed' (its input left the source) or 'superseded' (its input changed,
--     e.g. a new caption, and a new sample replaced it). Rows are never deleted: lineage stays
--     whole, and a manifest (which selects status = 'accepted') no longer picks them.
--   * source_index: every entry of a refreshed source with its size, mtime and content hash, so
--     the next refresh curates only what is new or changed.
--   * sample_status_changes: when and why a sample's status was changed by a refresh.
--   * live_manifests: stored selections that get a new version whenever a refresh changes them.
-- Idempotent: every statement may run again on a v5 file without changing it.

-- DuckDB cannot alter a CHECK constraint: rebuild samples (views over it are re-bound by name).
CREATE OR REPLACE TABLE samples_v5 (
    key          VARCHAR NOT NULL,
    modality     VARCHAR NOT NULL CHECK (modality IN ('image', 'video', 'multiview', 'speech')),
    source_uri   VARCHAR NOT NULL,
    caption      VARCHAR,
    width        INTEGER,
    height       INTEGER,
    frames       INTEGER,
    duration     DOUBLE,
    sample_rate  INTEGER,
    split        VARCHAR NOT NULL,
    meta         JSON NOT NULL,
    status       VARCHAR NOT NULL CHECK (status IN ('accepted', 'rejected', 'quarantined', 'removed', 'superseded')),
    reason       VARCHAR,
    first_run    VARCHAR NOT NULL,
    last_run     VARCHAR NOT NULL,
    CHECK (status = 'accepted' OR reason IS NOT NULL)
);
INSERT INTO samples_v5 BY NAME SELECT * FROM samples;
DROP TABLE samples;
ALTER TABLE samples_v5 RENAME TO samples;

CREATE TABLE IF NOT EXISTS source_index (
    source        VARCHAR NOT NULL,        -- the source as refreshed (resolved path or glob)
    modality      VARCHAR NOT NULL,
    name          VARCHAR NOT NULL,        -- the entry's name relative to the source
    uri           VARCHAR NOT NULL,        -- the entry's absolute origin (samples.source_uri of its input)
    input_name    VARCHAR,                 -- the input (media) it belongs to; NULL for a leftover
    size          BIGINT NOT NULL,
    mtime_ns      BIGINT,                  -- NULL for inline entries (listing captions)
    content_hash  VARCHAR NOT NULL,        -- sha256 of the bytes
    first_seen    TIMESTAMP NOT NULL,
    last_seen     TIMESTAMP NOT NULL,
    status        VARCHAR NOT NULL CHECK (status IN ('present', 'removed')),
    removed_at    TIMESTAMP,
    run_id        VARCHAR                  -- the refresh run that last changed the row
    -- unique (source, modality, name)
);

CREATE TABLE IF NOT EXISTS sample_status_changes (
    key            VARCHAR NOT NULL,
    old_status     VARCHAR NOT NULL,
    old_reason     VARCHAR,
    new_status     VARCHAR NOT NULL,
    reason         VARCHAR NOT NULL,
    superseded_by  VARCHAR,                -- the key of the sample that replaced it
    changed_at     TIMESTAMP NOT NULL,
    run_id         VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS live_manifests (
    name              VARCHAR PRIMARY KEY,
    predicate         VARCHAR NOT NULL,    -- the --where SQL over samples, as for a frozen manifest
    description       VARCHAR NOT NULL,
    train_min_growth  INTEGER,             -- members added since training was last due that make it due again
    train_options     JSON NOT NULL,       -- TrainConfig fields for the training the trigger starts
    trained_version   INTEGER,             -- the version at which training was last due (the baseline)
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
