-- Version 4: a run records who owns it (PID, process start time, host) and a heartbeat, and may be
-- 'abandoned': the next run marks a run abandoned when its owner process is gone on this host, or
-- when its heartbeat is older than the timeout (see Catalog.mark_abandoned_runs).
-- DuckDB cannot alter a CHECK constraint, so the table is rebuilt (nothing references runs).
CREATE TABLE runs_v4 (
    run_id         VARCHAR PRIMARY KEY,
    flow_name      VARCHAR NOT NULL,
    parameters     JSON NOT NULL,
    code_version   VARCHAR,
    started_at     TIMESTAMP NOT NULL,
    ended_at       TIMESTAMP,
    status         VARCHAR NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'cancelled', 'abandoned')),
    owner_pid      INTEGER,                -- the process that started (or resumed) the run
    owner_started  DOUBLE,                 -- its start time (epoch s), so a reused PID is not mistaken for it
    owner_host     VARCHAR,                -- socket.gethostname() of that process
    heartbeat_at   TIMESTAMP               -- last sign of life: start, Catalog.heartbeat, finish
);
INSERT INTO runs_v4 (run_id, flow_name, parameters, code_version, started_at, ended_at, status, heartbeat_at)
SELECT run_id, flow_name, parameters, code_version, started_at, ended_at, status, coalesce(ended_at, started_at)
FROM runs;
DROP TABLE runs;
ALTER TABLE runs_v4 RENAME TO runs;
