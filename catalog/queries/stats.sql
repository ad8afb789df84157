-- `lumina catalog stats`: each statement is one section of the report.

-- name: stats_totals
SELECT
    (SELECT count(*) FROM samples) AS samples,
    (SELECT count(*) FROM samples WHERE status = 'accepted') AS accepted,
    (SELECT count(*) FROM verdicts) AS verdicts,
    (SELECT count(*) FROM encodings) AS encodings,
    (SELECT count(*) FROM shards) AS shards,
    (SELECT count(*) FROM runs) AS runs,
    (SELECT count(*) FROM manifests) AS manifests,
    (SELECT count(*) FROM checkpoints) AS checkpoints;

-- name: stats_status
PIVOT status_counts ON status IN ('accepted', 'rejected', 'quarantined') USING sum(samples) ORDER BY modality;

-- name: stats_drop_reasons
SELECT modality, status, reason_kind, samples, example_reason FROM drop_reasons ORDER BY samples DESC, modality, reason_kind LIMIT 20;

-- name: stats_filters
SELECT filter, filter_version, evaluated, dropped, drop_rate
FROM filter_drop_rates ORDER BY drop_rate DESC, filter, filter_version;

-- name: stats_storage
SELECT stage, shards, samples, bytes FROM storage_by_stage ORDER BY stage;
