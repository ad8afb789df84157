-- Schema v1: the core tables. Timestamps are UTC (TIMESTAMP without time zone).
-- JSON columns hold objects written by json.dumps; query them with ->> (e.g. meta->>'label').

CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    name        VARCHAR NOT NULL,
    applied_at  TIMESTAMP NOT NULL
);

-- One row per flow run (curate, encode, train, evaluate, ...).
CREATE TABLE runs (
    run_id        VARCHAR PRIMARY KEY,
    flow_name     VARCHAR NOT NULL,
    parameters    JSON NOT NULL,
    code_version  VARCHAR,                 -- git commit of the working tree ("+dirty" when modified)
    started_at    TIMESTAMP NOT NULL,
    ended_at      TIMESTAMP,
    status        VARCHAR NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'cancelled'))
);

-- Every input ever seen, once per content key, with its current status.
CREATE TABLE samples (
    key          VARCHAR NOT NULL,         -- unique; content hash of the source bytes (+ caption)
    modality     VARCHAR NOT NULL CHECK (modality IN ('image', 'video', 'multiview', 'speech')),
    source_uri   VARCHAR NOT NULL,
    caption      VARCHAR,
    width        INTEGER,
    height       INTEGER,
    frames       INTEGER,                  -- video frames, or views for multi-view
    duration     DOUBLE,                   -- seconds
    sample_rate  INTEGER,
    split        VARCHAR NOT NULL,         -- train / holdout
    meta         JSON NOT NULL,
    status       VARCHAR NOT NULL CHECK (status IN ('accepted', 'rejected', 'quarantined')),
    reason       VARCHAR,                  -- NULL only when accepted
    first_run    VARCHAR NOT NULL,
    last_run     VARCHAR NOT NULL,
    CHECK (status = 'accepted' OR reason IS NOT NULL)
);

-- Each filter's decision on each sample.
CREATE TABLE verdicts (
    key             VARCHAR NOT NULL,
    filter          VARCHAR NOT NULL,
    filter_version  VARCHAR NOT NULL,
    score           DOUBLE,
    threshold       DOUBLE,
    passed          BOOLEAN NOT NULL,
    run_id          VARCHAR NOT NULL
    -- unique (key, filter, filter_version)
);

-- webdataset .tar files written by the curate and encode stages.
CREATE TABLE shards (
    uri          VARCHAR PRIMARY KEY,
    stage        VARCHAR NOT NULL CHECK (stage IN ('curated', 'encoded')),
    num_samples  INTEGER NOT NULL,
    bytes        BIGINT NOT NULL,
    sha256       VARCHAR NOT NULL,
    run_id       VARCHAR NOT NULL
);

-- Which samples a shard holds (the accepted samples of the batch that wrote it).
CREATE TABLE shard_samples (
    shard_uri  VARCHAR NOT NULL,
    key        VARCHAR NOT NULL
    -- unique (shard_uri, key)
);

-- Encoder outputs (latents, text features) and where they are stored.
CREATE TABLE encodings (
    key                  VARCHAR NOT NULL,
    encoder_fingerprint  VARCHAR NOT NULL,
    kind                 VARCHAR NOT NULL,  -- "latent" or "text"
    shape                INTEGER[] NOT NULL,
    dtype                VARCHAR NOT NULL,
    shard_uri            VARCHAR NOT NULL,
    member               VARCHAR NOT NULL,  -- webdataset member name inside the shard
    run_id               VARCHAR NOT NULL
    -- unique (key, encoder_fingerprint, kind)
);

-- Named, versioned, frozen selections of accepted samples for training.
CREATE TABLE manifests (
    name          VARCHAR NOT NULL,
    version       INTEGER NOT NULL,
    predicate     VARCHAR NOT NULL,         -- the --where SQL over `samples`
    description   VARCHAR NOT NULL,
    encoders      JSON NOT NULL,            -- {"latent": "<fingerprint>", "text": "<fingerprint>"}
    num_members   BIGINT NOT NULL,
    num_excluded  BIGINT NOT NULL,          -- matched, but lacked an encoding of a manifest kind
    created_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE manifest_members (
    manifest  VARCHAR NOT NULL,
    version   INTEGER NOT NULL,
    key       VARCHAR NOT NULL,
    caption   VARCHAR,
    split     VARCHAR NOT NULL,
    meta      JSON NOT NULL
    -- unique (manifest, version, key)
);

CREATE TABLE manifest_encodings (
    manifest             VARCHAR NOT NULL,
    version              INTEGER NOT NULL,
    key                  VARCHAR NOT NULL,
    kind                 VARCHAR NOT NULL,
    encoder_fingerprint  VARCHAR NOT NULL,
    shard_uri            VARCHAR NOT NULL,
    member               VARCHAR NOT NULL
    -- unique (manifest, version, key, kind)
);

CREATE TABLE checkpoints (
    checkpoint_id     VARCHAR PRIMARY KEY,
    uri               VARCHAR NOT NULL UNIQUE,
    run_id            VARCHAR NOT NULL,
    manifest          VARCHAR,
    manifest_version  INTEGER,
    step              BIGINT NOT NULL,
    config            JSON NOT NULL,
    created_at        TIMESTAMP NOT NULL
);

CREATE SEQUENCE metrics_seq;

CREATE TABLE metrics (
    run_id         VARCHAR NOT NULL,
    checkpoint_id  VARCHAR,
    name           VARCHAR NOT NULL,
    value          DOUBLE,
    step           BIGINT,
    split          VARCHAR,
    logged_at      TIMESTAMP NOT NULL,
    seq            BIGINT NOT NULL DEFAULT nextval('metrics_seq')  -- logging order
);
