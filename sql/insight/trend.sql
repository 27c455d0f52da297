-- insight: segment sizes and revenue shares per as-of date, over the loaded runs segmented with the
-- same settings as run %(run_id)s (one run per as-of date: the latest run_id of the day).
WITH chain AS (
    SELECT DISTINCT ON (r.as_of_date) r.run_id, r.as_of_date
    FROM rfm_loaded_run r
    WHERE r.settings = (SELECT settings FROM rfm_loaded_run WHERE run_id = %(run_id)s)
    ORDER BY r.as_of_date, r.run_id DESC
)
SELECT t.as_of_date, t.run_id, t.segment, t.value_rank, t.customers, t.customer_share, t.revenue,
       t.revenue_share
FROM segment_trend t
JOIN chain c ON c.run_id = t.run_id
ORDER BY t.as_of_date, t.value_rank, t.segment
