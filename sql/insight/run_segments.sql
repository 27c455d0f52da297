-- insight: one run's segments, most valuable first: size, revenue and its share, mean R/F/M.
SELECT segment, value_rank, customers, customer_share, revenue, revenue_share,
       recency_mean, frequency_mean, monetary_mean
FROM segment_trend
WHERE run_id = %(run_id)s
ORDER BY value_rank, segment
