-- The views and functions of segment insight, in their current form: the only place they are
-- defined. create_schema.sql re-creates them after the migrations whenever this text changed (md5
-- in schema_definitions, as for triggers.sql); nothing stores data in them.
--
-- Comparable snapshots: two loaded runs are comparable when they segment with the same settings
-- (k, metric, random state, order statuses, look-back window, recency reference). A run's
-- *previous* snapshot is the comparable loaded run with the latest earlier as-of date (on a tie,
-- the latest run_id). Transitions compare each customer's segment in a run with the previous one;
-- customers with no segment in the earlier run are '(new)', those with none in the later one
-- '(gone)' (no qualifying order any more). Revenue is the customer's monetary value in the later
-- snapshot (the earlier one for '(gone)').

DROP VIEW IF EXISTS segment_trend, customer_segment_transitions, customer_segment_transition_detail,
    rfm_run_previous, rfm_loaded_run CASCADE;
DROP FUNCTION IF EXISTS segment_transitions_between(bigint, bigint) CASCADE;

CREATE VIEW rfm_loaded_run AS
SELECT r.run_id, r.as_of_date, r.n_customers, r.n_clusters, r.algorithm, r.silhouette,
       r.calinski_harabasz, r.davies_bouldin, r.loss, r.airflow_dag_id, r.airflow_run_id, r.calculated_on,
       jsonb_build_object(
           'n_clusters', r.n_clusters,
           'metric', r.params -> 'metric',
           'random_state', r.params -> 'random_state',
           'order_statuses', to_jsonb(r.order_statuses),
           'lookback_days', r.lookback_days,
           'recency_reference', r.recency_reference
       ) AS settings
FROM rfm_run r
WHERE r.status = 'loaded';

CREATE VIEW rfm_run_previous AS
SELECT r.run_id, r.as_of_date, p.run_id AS previous_run_id, p.as_of_date AS previous_as_of_date
FROM rfm_loaded_run r
LEFT JOIN LATERAL (
    SELECT e.run_id, e.as_of_date
    FROM rfm_loaded_run e
    WHERE e.settings = r.settings AND e.as_of_date < r.as_of_date
    ORDER BY e.as_of_date DESC, e.run_id DESC
    LIMIT 1
) p ON true;

-- every customer of either run: from/to segment, value ranks (within each run), movement, revenue.
-- movement: new | gone | up (to a more valuable segment) | down | stayed
CREATE FUNCTION segment_transitions_between(from_run bigint, to_run bigint)
RETURNS TABLE (
    customer_id bigint, from_segment text, to_segment text, from_value_rank int, to_value_rank int,
    movement text, revenue numeric, from_recency_days int, to_recency_days int, from_frequency int,
    to_frequency int, from_monetary numeric, to_monetary numeric
)
LANGUAGE sql STABLE AS $$
    SELECT coalesce(t.customer_id, f.customer_id),
           coalesce(df.label, '(new)'),
           coalesce(dt.label, '(gone)'),
           sf.value_rank,
           st.value_rank,
           CASE WHEN f.customer_id IS NULL THEN 'new'
                WHEN t.customer_id IS NULL THEN 'gone'
                WHEN st.value_rank < sf.value_rank THEN 'up'
                WHEN st.value_rank > sf.value_rank THEN 'down'
                ELSE 'stayed' END,
           coalesce(t.monetary_amt, f.monetary_amt),
           f.recency_days, t.recency_days, f.frequency, t.frequency, f.monetary_amt, t.monetary_amt
    FROM (SELECT * FROM customer_segment_history WHERE run_id = from_run) f
    FULL JOIN (SELECT * FROM customer_segment_history WHERE run_id = to_run) t
           ON t.customer_id = f.customer_id
    LEFT JOIN rfm_segment_def df ON df.segment_id = f.segment_id
    LEFT JOIN rfm_segment_def dt ON dt.segment_id = t.segment_id
    LEFT JOIN rfm_run_segment_summary sf ON sf.run_id = f.run_id AND sf.segment_id = f.segment_id
    LEFT JOIN rfm_run_segment_summary st ON st.run_id = t.run_id AND st.segment_id = t.segment_id
$$;

-- per customer, each loaded run against its previous comparable snapshot (the first run of a
-- chain: everybody is '(new)')
CREATE VIEW customer_segment_transition_detail AS
SELECT p.run_id, p.as_of_date, p.previous_run_id, p.previous_as_of_date, t.*
FROM rfm_run_previous p
CROSS JOIN LATERAL segment_transitions_between(p.previous_run_id, p.run_id) t;

-- the transition matrix of each loaded run: customers and revenue per (from, to) pair
CREATE VIEW customer_segment_transitions AS
SELECT run_id, as_of_date, previous_run_id, previous_as_of_date, from_segment, to_segment,
       from_value_rank, to_value_rank, movement, count(*)::int AS customers, sum(revenue) AS revenue
FROM customer_segment_transition_detail
GROUP BY run_id, as_of_date, previous_run_id, previous_as_of_date, from_segment, to_segment,
         from_value_rank, to_value_rank, movement;

-- segment sizes and revenue shares per as-of date, across all loaded runs
CREATE VIEW segment_trend AS
SELECT s.run_id, r.as_of_date, r.settings, d.label AS segment, s.value_rank, s.customers,
       s.customers::float8 / sum(s.customers) OVER w AS customer_share,
       s.revenue,
       (s.revenue / nullif(sum(s.revenue) OVER w, 0))::float8 AS revenue_share,
       s.recency_mean, s.frequency_mean, s.monetary_mean
FROM rfm_run_segment_summary s
JOIN rfm_loaded_run r ON r.run_id = s.run_id
JOIN rfm_segment_def d ON d.segment_id = s.segment_id
WINDOW w AS (PARTITION BY s.run_id);
