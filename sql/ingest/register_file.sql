-- download_raw: record the file once per content (sha256); staged_at says whether it was staged.
INSERT INTO source_files (source_uri, sha256, size_bytes, row_count, airflow_run_id)
VALUES (%(source_uri)s, %(sha256)s, %(size_bytes)s, %(row_count)s, %(airflow_run_id)s)
ON CONFLICT (sha256) DO UPDATE SET source_uri = source_files.source_uri
RETURNING file_id, staged_at
