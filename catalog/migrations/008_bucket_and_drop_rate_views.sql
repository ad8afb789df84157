-- Version 8: two views that misled.
-- accepted_by_bucket: audio samples (those with a sample rate) are bucketed by duration. Their
-- width and height are mel frames and bins, so they all fell in 'a: <256px'.
-- filter_drop_rates: a filter that records only what it drops (exact duplicates, unreadable
-- streams) has no rate: drop_rate is NULL and `note` says why. It showed 1.0 ("1 of 1") at the top.
DROP VIEW IF EXISTS accepted_by_bucket;
CREATE VIEW accepted_by_bucket AS
SELECT
    modality,
    CASE
        WHEN duration IS NOT NULL AND (sample_rate IS NOT NULL OR width IS NULL OR height IS NULL) THEN
            CASE
                WHEN duration < 2 THEN 'a: <2s'
                WHEN duration < 5 THEN 'b: 2-5s'
                WHEN duration < 10 THEN 'c: 5-10s'
                ELSE 'd: >=10s'
            END
        WHEN width IS NOT NULL AND height IS NOT NULL THEN
            CASE
                WHEN least(width, height) < 256 THEN 'a: <256px'
                WHEN least(width, height) < 512 THEN 'b: 256-511px'
                WHEN least(width, height) < 1024 THEN 'c: 512-1023px'
                ELSE 'd: >=1024px'
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

DROP VIEW IF EXISTS filter_drop_rates;
CREATE VIEW filter_drop_rates AS
SELECT
    filter,
    filter_version,
    count(*) AS evaluated,
    count(*) FILTER (WHERE NOT passed) AS dropped,
    CASE WHEN count(*) FILTER (WHERE passed) > 0 THEN round(count(*) FILTER (WHERE NOT passed) / count(*), 4) END AS drop_rate,
    avg(score) AS avg_score,
    any_value(threshold) AS threshold,
    CASE WHEN count(*) FILTER (WHERE passed) = 0 THEN 'no pass recorded: this filter may record only what it drops' END AS note
FROM verdicts
GROUP BY filter, filter_version;

DROP VIEW IF EXISTS filter_drop_rates_by_modality;
CREATE VIEW filter_drop_rates_by_modality AS
WITH recorded AS (SELECT filter, filter_version, bool_or(passed) AS any_pass FROM verdicts GROUP BY filter, filter_version)
SELECT
    v.filter,
    v.filter_version,
    s.modality,
    count(*) AS evaluated,
    count(*) FILTER (WHERE NOT v.passed) AS dropped,
    CASE WHEN bool_or(r.any_pass) THEN round(count(*) FILTER (WHERE NOT v.passed) / count(*), 4) END AS drop_rate
FROM verdicts v
JOIN samples s USING (key)
JOIN recorded r ON r.filter = v.filter AND r.filter_version = v.filter_version
GROUP BY v.filter, v.filter_version, s.modality;
