-- Version 11: latest_metrics says what each figure was measured on. It keeps each checkpoint's last
-- value of each metric whatever evaluation logged it, so a checkpoint's heldout_fm_loss from one
-- held-out manifest sat beside its class_accuracy from a `--steps 1` run of another, and nothing in
-- the row told them apart: its `manifest` is the checkpoint's training manifest. The same rows (one
-- per checkpoint_id, name, split, as before) now end with the run's `flow_name`, the manifest the
-- evaluation read (`evaluated_manifest`, `evaluated_manifest_version`) and the sampling settings it
-- drew its samples at (evaluation/evaluate.py SAMPLING_SETTINGS: `sampling_steps`, `solver`,
-- `cfg_scale`, `shift`, `samples_per_class`, `seed`, `max_heldout`), read from the run's parameters:
-- a `lumina evaluate` run's own (EvalConfig), a data_to_model run's `evaluation` (its held-out
-- manifest is `manifest_prefix`-holdout) for the figures its evaluation logged (split other than
-- 'train': the training's own log is 'train'). NULL where the run recorded none: a training
-- metric, or a setting a data_to_model run left at the code's default. The version, when the run
-- named none (`name@vN` or manifest_version), is the newest one made before the evaluation read it:
-- before a `lumina evaluate` run started, before a data_to_model run logged the figure.
-- evaluation_metrics keeps the last value of each metric per checkpoint and evaluation (manifest
-- version and settings), so two checkpoints can be compared on the same evaluation even when one
-- was evaluated otherwise since.
DROP VIEW IF EXISTS latest_metrics;
CREATE VIEW latest_metrics AS
WITH latest AS (
    SELECT c.checkpoint_id, c.uri, c.step AS checkpoint_step, c.manifest, c.manifest_version,
           m.name, m.split, m.value, m.step, m.run_id, m.logged_at
    FROM metrics m
    JOIN checkpoints c USING (checkpoint_id)
    QUALIFY row_number() OVER (PARTITION BY m.checkpoint_id, m.name, m.split ORDER BY m.seq DESC) = 1
), measured AS (
    SELECT l.*, r.flow_name,
           CASE WHEN r.flow_name = 'evaluate' THEN r.parameters
                WHEN r.flow_name = 'data_to_model' AND l.split IS DISTINCT FROM 'train' THEN r.parameters->'evaluation'
           END AS s,
           CASE WHEN r.flow_name = 'evaluate' THEN r.parameters->>'manifest'
                WHEN r.flow_name = 'data_to_model' AND l.split IS DISTINCT FROM 'train' THEN (r.parameters->>'manifest_prefix') || '-holdout'
           END AS given,
           CASE WHEN r.flow_name = 'evaluate' THEN r.started_at ELSE l.logged_at END AS read_at
    FROM latest l
    LEFT JOIN runs r USING (run_id)
), named AS (
    SELECT *, regexp_replace(given, '@v[0-9]+$', '') AS evaluated_manifest,
           coalesce(TRY_CAST(nullif(regexp_extract(given, '@v([0-9]+)$', 1), '') AS INTEGER),
                    TRY_CAST(s->>'manifest_version' AS INTEGER)) AS named_version
    FROM measured
)
SELECT checkpoint_id, uri, checkpoint_step, manifest, manifest_version, name, split, value, step, run_id, logged_at,
       flow_name, evaluated_manifest,
       CASE WHEN evaluated_manifest IS NOT NULL THEN coalesce(named_version,
           (SELECT max(v.version) FROM manifests v WHERE v.name = evaluated_manifest AND v.created_at <= read_at))
       END AS evaluated_manifest_version,
       TRY_CAST(s->>'steps' AS INTEGER) AS sampling_steps,
       s->>'solver' AS solver,
       TRY_CAST(s->>'cfg_scale' AS DOUBLE) AS cfg_scale,
       TRY_CAST(s->>'shift' AS DOUBLE) AS shift,
       TRY_CAST(s->>'samples_per_class' AS INTEGER) AS samples_per_class,
       TRY_CAST(s->>'seed' AS BIGINT) AS seed,
       TRY_CAST(s->>'max_heldout' AS INTEGER) AS max_heldout
FROM named;

DROP VIEW IF EXISTS evaluation_metrics;  -- a catalog migrated again from an earlier version has it
CREATE VIEW evaluation_metrics AS
WITH measured AS (
    SELECT c.checkpoint_id, c.uri, c.step AS checkpoint_step, c.manifest, c.manifest_version,
           m.name, m.split, m.value, m.step, m.run_id, m.logged_at, m.seq, r.flow_name,
           CASE WHEN r.flow_name = 'evaluate' THEN r.parameters ELSE r.parameters->'evaluation' END AS s,
           CASE WHEN r.flow_name = 'evaluate' THEN r.parameters->>'manifest'
                ELSE (r.parameters->>'manifest_prefix') || '-holdout' END AS given,
           CASE WHEN r.flow_name = 'evaluate' THEN r.started_at ELSE m.logged_at END AS read_at
    FROM metrics m
    JOIN checkpoints c USING (checkpoint_id)
    JOIN runs r ON r.run_id = m.run_id
    WHERE r.flow_name = 'evaluate' OR (r.flow_name = 'data_to_model' AND m.split IS DISTINCT FROM 'train')
), named AS (
    SELECT *, regexp_replace(given, '@v[0-9]+$', '') AS evaluated_manifest,
           coalesce(TRY_CAST(nullif(regexp_extract(given, '@v([0-9]+)$', 1), '') AS INTEGER),
                    TRY_CAST(s->>'manifest_version' AS INTEGER)) AS named_version
    FROM measured
), settled AS (
    SELECT checkpoint_id, uri, checkpoint_step, manifest, manifest_version, name, split, value, step, run_id, logged_at,
           flow_name, evaluated_manifest,
           coalesce(named_version,
               (SELECT max(v.version) FROM manifests v WHERE v.name = evaluated_manifest AND v.created_at <= read_at))
               AS evaluated_manifest_version,
           TRY_CAST(s->>'steps' AS INTEGER) AS sampling_steps,
           s->>'solver' AS solver,
           TRY_CAST(s->>'cfg_scale' AS DOUBLE) AS cfg_scale,
           TRY_CAST(s->>'shift' AS DOUBLE) AS shift,
           TRY_CAST(s->>'samples_per_class' AS INTEGER) AS samples_per_class,
           TRY_CAST(s->>'seed' AS BIGINT) AS seed,
           TRY_CAST(s->>'max_heldout' AS INTEGER) AS max_heldout,
           seq
    FROM named
)
SELECT * EXCLUDE (seq)
FROM settled
QUALIFY row_number() OVER (PARTITION BY checkpoint_id, name, split, evaluated_manifest, evaluated_manifest_version,
                                        sampling_steps, solver, cfg_scale, shift, samples_per_class, seed, max_heldout
                           ORDER BY seq DESC) = 1;
