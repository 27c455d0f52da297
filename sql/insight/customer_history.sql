-- insight: one customer's segment and RFM values in every loaded run, by as-of date.
SELECT r.as_of_date, h.run_id, d.label AS segment, s.value_rank, h.recency_days, h.frequency,
       h.monetary_amt, h.is_medoid
FROM customer_segment_history h
JOIN rfm_loaded_run r ON r.run_id = h.run_id
JOIN rfm_segment_def d ON d.segment_id = h.segment_id
LEFT JOIN rfm_run_segment_summary s ON s.run_id = h.run_id AND s.segment_id = h.segment_id
WHERE h.customer_id = %(customer_id)s
ORDER BY r.as_of_date, h.run_id
