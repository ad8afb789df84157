-- Version 3: drop reasons grouped by their kind (the text before the first colon, e.g. "min_size"
-- or "decode_error"), with one full reason as an example. Per-sample details stay in samples.reason.
DROP VIEW IF EXISTS drop_reasons;
CREATE VIEW drop_reasons AS
SELECT modality, status, split_part(reason, ':', 1) AS reason_kind, count(*) AS samples, min(reason) AS example_reason
FROM samples
WHERE status <> 'accepted'
GROUP BY modality, status, split_part(reason, ':', 1);
