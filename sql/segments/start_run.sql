-- compute_rfm: create (or reset, on a re-run of the same Airflow run) the rfm_run of an Airflow
-- run, with its settings; returns its run_id. The caller clears the run's earlier results.
INSERT INTO rfm_run (as_of_date, end_date, order_statuses, lookback_days, recency_reference,
                     airflow_dag_id, airflow_run_id, status, calculated_on)
VALUES (%(as_of)s, %(as_of)s, %(statuses)s, %(lookback_days)s, %(recency_reference)s,
        %(dag_id)s, %(dag_run_id)s, 'computing', now())
ON CONFLICT (airflow_dag_id, airflow_run_id) DO UPDATE
    SET as_of_date = EXCLUDED.as_of_date, end_date = EXCLUDED.end_date,
        order_statuses = EXCLUDED.order_statuses, lookback_days = EXCLUDED.lookback_days,
        recency_reference = EXCLUDED.recency_reference, status = 'computing',
        calculated_on = now(), n_clusters = NULL, algorithm = NULL, params = NULL,
        silhouette = NULL, calinski_harabasz = NULL, davies_bouldin = NULL, loss = NULL
RETURNING run_id
