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
-- every status a sample can have: removed and superseded (refresh) were counted in the totals but shown nowhere
SELECT modality,
       count(*) FILTER (status = 'accepted') AS accepted, count(*) FILTER (status = 'rejected') AS rejected,
       count(*) FILTER (status = 'quarantined') AS quarantined, count(*) FILTER (status = 'removed') AS removed,
       count(*) FILTER (status = 'superseded') AS superseded
FROM samples GROUP BY modality ORDER BY modality;

-- name: stats_drop_reasons
-- every row (a few per filter and modality): `stats --json` and Catalog.stats() give them all, the table
-- shows the top 20 and says how many more (it cut them here, so --json held 20 of a workspace's 41, unsaid)
SELECT modality, status, reason_kind, samples, example_reason FROM drop_reasons ORDER BY samples DESC, modality, reason_kind;

-- name: stats_filters
SELECT filter, filter_version, threshold, evaluated, dropped, drop_rate, note
FROM filter_drop_rates ORDER BY drop_rate DESC NULLS LAST, filter, filter_version, threshold;

-- name: stats_storage
SELECT stage, shards, samples, bytes FROM storage_by_stage ORDER BY stage;
