-- insight (UI page, report): every loaded run, newest as-of date first, with its previous
-- comparable snapshot (views.sql) and whether a report is stored for it.
SELECT r.run_id, r.as_of_date, r.n_customers, r.n_clusters, r.algorithm, r.silhouette,
       r.calinski_harabasz, r.davies_bouldin, r.loss, r.airflow_run_id, r.settings,
       p.previous_run_id, p.previous_as_of_date,
       EXISTS (SELECT 1 FROM rfm_report_file f WHERE f.run_id = r.run_id) AS has_report
FROM rfm_loaded_run r
JOIN rfm_run_previous p ON p.run_id = r.run_id
ORDER BY r.as_of_date DESC, r.run_id DESC
LIMIT %(limit)s
