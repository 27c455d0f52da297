-- report: every customer of one run with its segment, RFM values and whether it is a medoid.
SELECT d.label AS segment, d.value_rank, h.customer_id, c.company_name, h.recency_days, h.frequency,
       h.monetary_amt::float8 AS monetary, h.is_medoid
FROM customer_segment_history h
JOIN rfm_segment_def d ON d.segment_id = h.segment_id
JOIN customers c ON c.customer_id = h.customer_id
WHERE h.run_id = %(run_id)s
