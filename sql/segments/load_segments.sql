-- Publish the fit of one run (rfm_fit, rfm_fit_assignment) in one transaction: labels, the run's
-- history snapshot and its per-segment summary, metrics, the model-selection table, and the current
-- segment of each customer.
-- Parameters: %(run_id)s. Re-running replaces the run's rows; it never duplicates them.

-- labels: names come from the medoids' profiles; value_rank orders them (1 = most valuable)
INSERT INTO rfm_segment_def (label, description, value_rank)
SELECT s->>'label', s->>'description', (s->>'value_rank')::int
FROM rfm_fit f, jsonb_array_elements(f.result->'segments') s
WHERE f.run_id = %(run_id)s
ON CONFLICT (label) DO UPDATE
    SET description = coalesce(EXCLUDED.description, rfm_segment_def.description),
        value_rank = EXCLUDED.value_rank;

DELETE FROM customer_segment_history WHERE run_id = %(run_id)s;
INSERT INTO customer_segment_history (run_id, customer_id, segment_id, recency_days, frequency,
                                      monetary_amt, is_medoid)
SELECT s.run_id, s.customer_id, d.segment_id, s.recency_days, s.frequency, s.monetary_amt, a.is_medoid
FROM rfm_snapshot s
JOIN rfm_fit_assignment a ON a.run_id = s.run_id AND a.customer_id = s.customer_id
JOIN rfm_segment_def d ON d.label = a.segment_label
WHERE s.run_id = %(run_id)s;

-- the run's per-segment summary (the trend and the UI page read it); value ranks as this fit set them
DELETE FROM rfm_run_segment_summary WHERE run_id = %(run_id)s;
INSERT INTO rfm_run_segment_summary (run_id, segment_id, value_rank, customers, revenue, recency_mean,
                                     frequency_mean, monetary_mean)
SELECT h.run_id, h.segment_id, min((s->>'value_rank')::int), count(*), sum(h.monetary_amt),
       avg(h.recency_days), avg(h.frequency), avg(h.monetary_amt)
FROM customer_segment_history h
JOIN rfm_segment_def d ON d.segment_id = h.segment_id
JOIN rfm_fit f ON f.run_id = h.run_id
LEFT JOIN LATERAL jsonb_array_elements(f.result->'segments') s ON s->>'label' = d.label
WHERE h.run_id = %(run_id)s
GROUP BY h.run_id, h.segment_id;

DELETE FROM rfm_model_selection WHERE run_id = %(run_id)s;
INSERT INTO rfm_model_selection (run_id, algorithm, k, metric, init, silhouette, calinski_harabasz,
                                 davies_bouldin, loss, fit_seconds, chosen)
SELECT %(run_id)s, m->>'algorithm', (m->>'k')::int, m->>'metric', m->>'init',
       (m->>'silhouette')::float8, (m->>'calinski_harabasz')::float8, (m->>'davies_bouldin')::float8,
       (m->>'loss')::float8, (m->>'fit_seconds')::float8, coalesce((m->>'chosen')::boolean, false)
FROM rfm_fit f, jsonb_array_elements(coalesce(f.result->'model_selection', '[]'::jsonb)) m
WHERE f.run_id = %(run_id)s;

UPDATE rfm_run r
   SET n_clusters = (f.result->>'n_clusters')::int,
       algorithm = f.result->>'algorithm',
       params = f.result->'params',
       silhouette = (f.result->>'silhouette')::float8,
       calinski_harabasz = (f.result->>'calinski_harabasz')::float8,
       davies_bouldin = (f.result->>'davies_bouldin')::float8,
       loss = (f.result->>'loss')::float8,
       status = 'loaded'
  FROM rfm_fit f
 WHERE f.run_id = r.run_id AND r.run_id = %(run_id)s;

-- current segments = the assignments of the loaded run with the latest as-of date, whatever order
-- backfilled runs finish in; serialised by the caller's advisory lock
CREATE TEMP TABLE current_run ON COMMIT DROP AS
SELECT run_id FROM rfm_run WHERE status = 'loaded' ORDER BY as_of_date DESC, run_id DESC LIMIT 1;

DELETE FROM customer_segments cs
 WHERE NOT EXISTS (SELECT 1 FROM customer_segment_history h JOIN current_run c ON c.run_id = h.run_id
                    WHERE h.customer_id = cs.customer_id);

INSERT INTO customer_segments AS cs (customer_id, segment_id, run_id, recency_days, frequency, monetary_amt)
SELECT h.customer_id, h.segment_id, h.run_id, h.recency_days, h.frequency, h.monetary_amt
FROM customer_segment_history h JOIN current_run c ON c.run_id = h.run_id
ON CONFLICT (customer_id) DO UPDATE
    SET segment_id = EXCLUDED.segment_id, run_id = EXCLUDED.run_id, recency_days = EXCLUDED.recency_days,
        frequency = EXCLUDED.frequency, monetary_amt = EXCLUDED.monetary_amt, calculated_on = now()
    WHERE (cs.segment_id, cs.run_id, cs.recency_days, cs.frequency, cs.monetary_amt)
          IS DISTINCT FROM (EXCLUDED.segment_id, EXCLUDED.run_id, EXCLUDED.recency_days,
                            EXCLUDED.frequency, EXCLUDED.monetary_amt);
