-- Version 12: a filter that dropped every input it judged had no drop rate. Since v8 a filter with no
-- passing verdict got drop_rate NULL and the note "this filter may record only what it drops", so a
-- curation whose threshold rejects everything (`lumina curate SRC --set options.min_side=100000`) showed
-- min_size: evaluated 34, dropped 34, drop_rate NULL. A filter that records only what it drops
-- (exact_dedup, an unreadable stream) is told apart by what it leaves unjudged: in a run it judges
-- fewer inputs than the run's widest filter (34 images, 1 exact duplicate), and it has no verdict for
-- accepted samples of its modality (a refresh whose one new input was an exact duplicate judged 1 of 1,
-- but the images accepted before have no exact_dedup verdict). A filter with no pass that judged, in
-- every run that recorded it, as many inputs as the run's widest filter, and that every accepted
-- sample of its modality has a verdict of, dropped everything it judged: drop_rate 1.0, no note.
DROP VIEW IF EXISTS filter_drop_rates;
CREATE VIEW filter_drop_rates AS
WITH per_run AS (  -- the one scan of verdicts
    SELECT filter, filter_version, threshold, run_id, count(*) AS evaluated, count(*) FILTER (WHERE NOT passed) AS dropped,
           sum(score) AS score_sum, count(score) AS scored, bool_or(passed) AS any_pass
    FROM verdicts GROUP BY filter, filter_version, threshold, run_id
), per_run_filter AS (
    SELECT filter, filter_version, run_id, bool_or(any_pass) AS any_pass, sum(evaluated) AS judged,
           max(sum(evaluated)) OVER (PARTITION BY run_id) AS widest
    FROM per_run GROUP BY filter, filter_version, run_id
), no_pass_judged_all AS (  -- dropped all it judged, or records only what it drops: the accepted samples tell
    SELECT filter, filter_version FROM per_run_filter GROUP BY filter, filter_version
    HAVING NOT bool_or(any_pass) AND bool_and(judged = widest)
), candidate_verdicts AS (
    SELECT v.key, v.filter, v.filter_version FROM verdicts v SEMI JOIN no_pass_judged_all n USING (filter, filter_version)
), skips_accepted AS (  -- an accepted sample of the filter's modality that has no verdict of it
    SELECT DISTINCT m.filter, m.filter_version
    FROM (SELECT DISTINCT c.filter, c.filter_version, s.modality FROM candidate_verdicts c JOIN samples s USING (key)) m
    JOIN samples a ON a.modality = m.modality AND a.status = 'accepted'
    ANTI JOIN candidate_verdicts x ON x.key = a.key AND x.filter = m.filter AND x.filter_version = m.filter_version
), rated AS (
    SELECT f.filter, f.filter_version,
           bool_or(f.any_pass) OR (bool_and(f.judged = f.widest) AND bool_and(s.filter IS NULL)) AS rated
    FROM per_run_filter f
    LEFT JOIN skips_accepted s ON s.filter = f.filter AND s.filter_version = f.filter_version
    GROUP BY f.filter, f.filter_version
)
SELECT
    p.filter,
    p.filter_version,
    sum(p.evaluated)::BIGINT AS evaluated,
    sum(p.dropped)::BIGINT AS dropped,
    CASE WHEN any_value(r.rated) THEN round(sum(p.dropped)::BIGINT / sum(p.evaluated)::BIGINT, 4) END AS drop_rate,
    sum(p.score_sum) / sum(p.scored) AS avg_score,
    p.threshold,
    CASE WHEN NOT any_value(r.rated) THEN 'no pass recorded: this filter may record only what it drops' END AS note
FROM per_run p
JOIN rated r ON r.filter = p.filter AND r.filter_version = p.filter_version
GROUP BY p.filter, p.filter_version, p.threshold;

DROP VIEW IF EXISTS filter_drop_rates_by_modality;
CREATE VIEW filter_drop_rates_by_modality AS
WITH rated AS (SELECT DISTINCT filter, filter_version, drop_rate IS NOT NULL AS rated FROM filter_drop_rates)
SELECT
    v.filter,
    v.filter_version,
    s.modality,
    count(*) AS evaluated,
    count(*) FILTER (WHERE NOT v.passed) AS dropped,
    CASE WHEN bool_or(r.rated) THEN round(count(*) FILTER (WHERE NOT v.passed) / count(*), 4) END AS drop_rate,
    v.threshold
FROM verdicts v
JOIN samples s USING (key)
JOIN rated r ON r.filter = v.filter AND r.filter_version = v.filter_version
GROUP BY v.filter, v.filter_version, v.threshold, s.modality;
