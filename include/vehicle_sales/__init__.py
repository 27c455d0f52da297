"""vehicle_sales: the importable logic behind the ``vehicle_sales_rfm`` Airflow DAG.

One module per step of the pipeline (download, encoding, staging, reference data, phones,
geocoding, rfm, segmentation, results, report) plus ``db`` (database access) and ``config``
(typed configuration from Airflow Variables and Params). Nothing here imports Airflow at module
level, so the DAG file parses fast and the logic is testable without a scheduler.
"""
