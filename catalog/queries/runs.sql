-- Runs, checkpoints, metrics and lineage.

-- name: start_run
-- Starting a run_id that exists resumes it: status back to running, started_at and parameters
-- kept, the new process becomes its owner.
INSERT INTO runs (run_id, flow_name, parameters, code_version, started_at, ended_at, status,
                  owner_pid, owner_started, owner_host, heartbeat_at)
VALUES ($1, $2, $3, $4, $5, NULL, 'running', $6, $7, $8, $5)
ON CONFLICT (run_id) DO UPDATE SET status = 'running', ended_at = NULL, owner_pid = excluded.owner_pid,
    owner_started = excluded.owner_started, owner_host = excluded.owner_host, heartbeat_at = excluded.heartbeat_at;

-- name: finish_run
UPDATE runs SET status = ?, ended_at = ?, heartbeat_at = ? WHERE run_id = ? RETURNING run_id;

-- name: running_runs
-- Runs that claim to be running, other than $1 (the run being started).
SELECT run_id, owner_pid, owner_started, owner_host, heartbeat_at
FROM runs WHERE status = 'running' AND run_id <> $1
ORDER BY started_at;

-- name: abandon_runs
-- $1 the runs found dead, $2 now: ended_at records when they were found, not when they died.
UPDATE runs SET status = 'abandoned', ended_at = $2
WHERE status = 'running' AND list_contains(CAST($1 AS VARCHAR[]), run_id)
RETURNING run_id;

-- name: heartbeat
-- A beat from an abandoned run's owner revives it: it was alive after all (e.g. on another host).
UPDATE runs SET heartbeat_at = $1,
    ended_at = CASE WHEN status = 'abandoned' THEN NULL ELSE ended_at END,
    status = CASE WHEN status = 'abandoned' THEN 'running' ELSE status END
WHERE run_id = $2
RETURNING status;

-- name: run_exists
SELECT count(*) FROM runs WHERE run_id = ?;

-- name: checkpoint_by_uri
SELECT checkpoint_id, CAST(config AS VARCHAR) FROM checkpoints WHERE uri = ?;

-- name: update_checkpoint
UPDATE checkpoints SET run_id = ?, manifest = ?, manifest_version = ?, step = ?, config = ?, created_at = ?
WHERE checkpoint_id = ?;

-- name: detach_checkpoint_metrics
UPDATE metrics SET checkpoint_id = NULL WHERE checkpoint_id = ?;

-- name: delete_lineage_into
DELETE FROM lineage WHERE dst_kind = ? AND dst_id = ?;

-- name: insert_checkpoint
INSERT INTO checkpoints (checkpoint_id, uri, run_id, manifest, manifest_version, step, config, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?);

-- name: checkpoint_exists
SELECT count(*) FROM checkpoints WHERE checkpoint_id = ?;

-- name: insert_metric
INSERT INTO metrics (run_id, checkpoint_id, name, value, step, split, logged_at)
VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: delete_open_window_metrics
-- A log window's rows from before it closed: a stopped run logs its open window with the checkpoint
-- written at the stop (so at that checkpoint's step); the window's later row, from the run folder's
-- --resume, replaces them. Params: split, names, window start, window end (excluded), a checkpoint
-- of the run folder.
DELETE FROM metrics
WHERE split = ? AND list_contains(?, name) AND step >= ? AND step < ?
  AND checkpoint_id IN (SELECT c.checkpoint_id FROM checkpoints c
                        WHERE c.step = metrics.step
                          AND parse_dirpath(c.uri) = (SELECT parse_dirpath(uri) FROM checkpoints WHERE checkpoint_id = ?));

-- name: insert_lineage
INSERT INTO lineage (src_kind, src_id, dst_kind, dst_id, created_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING;
