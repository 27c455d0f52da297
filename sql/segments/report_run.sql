-- report: the run's as-of date, size, model and metrics.
SELECT as_of_date, n_customers, n_clusters, algorithm, silhouette, calinski_harabasz, davies_bouldin, loss
FROM rfm_run
WHERE run_id = %(run_id)s
