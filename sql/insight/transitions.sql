-- insight: the transition matrix between two runs: customers and revenue per (from, to) segment
-- pair, '(new)' and '(gone)' included (segment_transitions_between in views.sql).
SELECT from_segment, to_segment, from_value_rank, to_value_rank, movement,
       count(*)::int AS customers, sum(revenue) AS revenue
FROM segment_transitions_between(%(from_run)s, %(to_run)s)
GROUP BY from_segment, to_segment, from_value_rank, to_value_rank, movement
ORDER BY from_value_rank NULLS FIRST, from_segment, to_value_rank NULLS LAST, to_segment
