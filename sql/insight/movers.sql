-- insight: the biggest movers between two runs: customers present in both whose segment went down
-- (or up) in value, by revenue (their monetary value in the later run), largest first.
SELECT t.customer_id, c.company_name, t.from_segment, t.to_segment, t.revenue,
       t.from_recency_days, t.to_recency_days, t.from_frequency, t.to_frequency,
       t.from_monetary, t.to_monetary
FROM segment_transitions_between(%(from_run)s, %(to_run)s) t
JOIN customers c ON c.customer_id = t.customer_id
WHERE t.movement = %(movement)s
ORDER BY t.revenue DESC NULLS LAST, t.customer_id
LIMIT %(limit)s
