-- Runs, checkpoints, metrics and lineage.

-- name: start_run
-- Starting a run_id that exists resumes it: status back to running, started_at and parameters kept.
INSERT INTO runs (run_id, flow_name, parameters, code_version, started_at, ended_at, status)
VALUES (?, ?, ?, ?, ?, NULL, 'running')
ON CONFLICT (run_id) DO UPDATE SET status = 'running', ended_at = NULL;

-- name: finish_run
UPDATE runs SET status = ?, ended_at = ? WHERE run_id = ? RETURNING run_id;

-- name: run_exists
SELECT count(*) FROM runs WHERE run_id = ?;

-- name: checkpoint_by_uri
SELECT checkpoint_id FROM checkpoints WHERE uri = ?;

-- name: insert_checkpoint
INSERT INTO checkpoints (checkpoint_id, uri, run_id, manifest, manifest_version, step, config, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?);

-- name: checkpoint_exists
SELECT count(*) FROM checkpoints WHERE checkpoint_id = ?;

-- name: insert_metric
INSERT INTO metrics (run_id, checkpoint_id, name, value, step, split, logged_at)
VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: insert_lineage
INSERT INTO lineage (src_kind, src_id, dst_kind, dst_id, created_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING;
