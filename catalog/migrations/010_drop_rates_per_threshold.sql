-- Version 10: filter drop rates per threshold. filter_drop_rates grouped by filter and filter_version
-- only and showed any_value(threshold): a filter run with two thresholds (curate --min-size 24, later
-- 56) got one rate over both, labelled with either threshold. A row is now one (filter,
-- filter_version, threshold), and filter_drop_rates_by_modality gets a threshold column and the same
-- grouping. Whether a filter records passes at all (the note, a NULL drop_rate) is still decided over
-- all its verdicts of that version, whatever their threshold.
DROP VIEW IF EXISTS filter_drop_rates;
CREATE VIEW filter_drop_rates AS
SELECT
    filter,
    filter_version,
    count(*) AS evaluated,
    count(*) FILTER (WHERE NOT passed) AS dropped,
    CASE WHEN bool_or(bool_or(passed)) OVER (PARTITION BY filter, filter_version)
         THEN round(count(*) FILTER (WHERE NOT passed) / count(*), 4) END AS drop_rate,
    avg(score) AS avg_score,
    threshold,
    CASE WHEN NOT bool_or(bool_or(passed)) OVER (PARTITION BY filter, filter_version)
         THEN 'no pass recorded: this filter may record only what it drops' END AS note
FROM verdicts
GROUP BY filter, filter_version, threshold;

DROP VIEW IF EXISTS filter_drop_rates_by_modality;
CREATE VIEW filter_drop_rates_by_modality AS
WITH recorded AS (SELECT filter, filter_version, bool_or(passed) AS any_pass FROM verdicts GROUP BY filter, filter_version)
SELECT
    v.filter,
    v.filter_version,
    s.modality,
    count(*) AS evaluated,
    count(*) FILTER (WHERE NOT v.passed) AS dropped,
    CASE WHEN bool_or(r.any_pass) THEN round(count(*) FILTER (WHERE NOT v.passed) / count(*), 4) END AS drop_rate,
    v.threshold
FROM verdicts v
JOIN samples s USING (key)
JOIN recorded r ON r.filter = v.filter AND r.filter_version = v.filter_version
GROUP BY v.filter, v.filter_version, v.threshold, s.modality;
