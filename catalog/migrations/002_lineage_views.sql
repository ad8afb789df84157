-- Schema v2: lineage edges, the registered-batch ledger, and views for common questions.

CREATE TABLE lineage (
    src_kind    VARCHAR NOT NULL CHECK (src_kind IN ('run', 'shard', 'manifest', 'checkpoint')),
    src_id      VARCHAR NOT NULL,
    dst_kind    VARCHAR NOT NULL CHECK (dst_kind IN ('run', 'shard', 'manifest', 'checkpoint')),
    dst_id      VARCHAR NOT NULL,           -- manifests are named "<name>@v<version>"
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (src_kind, src_id, dst_kind, dst_id)
);

-- Backfill the edges a v1 catalog implies.
INSERT INTO lineage
SELECT 'run', run_id, 'shard', uri, (SELECT coalesce(max(applied_at), TIMESTAMP '1970-01-01') FROM schema_version)
FROM shards;

INSERT INTO lineage
SELECT 'run', run_id, 'checkpoint', checkpoint_id, created_at FROM checkpoints;

INSERT INTO lineage
SELECT 'manifest', manifest || '@v' || manifest_version, 'checkpoint', checkpoint_id, created_at
FROM checkpoints WHERE manifest IS NOT NULL AND manifest_version IS NOT NULL;

-- One row per registered batch: registering a batch whose digest is here is a no-op.
CREATE TABLE batches (
    digest         VARCHAR PRIMARY KEY,     -- sha256 of the batch's columnar content
    run_id         VARCHAR NOT NULL,
    shard_uri      VARCHAR,
    num_samples    INTEGER NOT NULL,
    num_verdicts   INTEGER NOT NULL,
    num_encodings  INTEGER NOT NULL,
    registered_at  TIMESTAMP NOT NULL
);

-- Accepted samples per modality and resolution bucket (shorter side in pixels; duration for speech).
CREATE VIEW accepted_by_bucket AS
SELECT
    modality,
    CASE
        WHEN width IS NOT NULL AND height IS NOT NULL THEN
            CASE
                WHEN least(width, height) < 256 THEN 'a: <256px'
                WHEN least(width, height) < 512 THEN 'b: 256-511px'
                WHEN least(width, height) < 1024 THEN 'c: 512-1023px'
                ELSE 'd: >=1024px'
            END
        WHEN duration IS NOT NULL THEN
            CASE
                WHEN duration < 2 THEN 'a: <2s'
                WHEN duration < 5 THEN 'b: 2-5s'
                WHEN duration < 10 THEN 'c: 5-10s'
                ELSE 'd: >=10s'
            END
        ELSE 'unknown'
    END AS bucket,
    count(*) AS samples,
    round(avg(width), 1) AS avg_width,
    round(avg(height), 1) AS avg_height,
    round(sum(duration), 1) AS total_seconds
FROM samples
WHERE status = 'accepted'
GROUP BY ALL;

-- How often each filter (version) rejects what it sees.
CREATE VIEW filter_drop_rates AS
SELECT
    filter,
    filter_version,
    count(*) AS evaluated,
    count(*) FILTER (WHERE NOT passed) AS dropped,
    round(count(*) FILTER (WHERE NOT passed) / count(*), 4) AS drop_rate,
    avg(score) AS avg_score,
    any_value(threshold) AS threshold
FROM verdicts
GROUP BY ALL;

-- The same per modality (joins samples: slower on large catalogs).
CREATE VIEW filter_drop_rates_by_modality AS
SELECT
    v.filter,
    v.filter_version,
    s.modality,
    count(*) AS evaluated,
    count(*) FILTER (WHERE NOT v.passed) AS dropped,
    round(count(*) FILTER (WHERE NOT v.passed) / count(*), 4) AS drop_rate
FROM verdicts v
JOIN samples s USING (key)
GROUP BY ALL;

-- Samples per modality and status.
CREATE VIEW status_counts AS
SELECT modality, status, count(*) AS samples
FROM samples
GROUP BY ALL;

-- Why samples were not accepted.
CREATE VIEW drop_reasons AS
SELECT modality, status, reason, count(*) AS samples
FROM samples
WHERE status <> 'accepted'
GROUP BY ALL;

-- Shards and bytes per stage.
CREATE VIEW storage_by_stage AS
SELECT stage, count(*) AS shards, sum(num_samples) AS samples, sum(bytes) AS bytes
FROM shards
GROUP BY ALL;

-- The most recently logged value of each metric for each checkpoint (and split).
CREATE VIEW latest_metrics AS
SELECT c.checkpoint_id, c.uri, c.step AS checkpoint_step, c.manifest, c.manifest_version,
       m.name, m.split, m.value, m.step, m.run_id, m.logged_at
FROM metrics m
JOIN checkpoints c USING (checkpoint_id)
QUALIFY row_number() OVER (PARTITION BY m.checkpoint_id, m.name, m.split ORDER BY m.seq DESC) = 1;
