-- report: store one file of a run's report in the warehouse (replaces an earlier version).
INSERT INTO rfm_report_file (run_id, name, content_type, content)
VALUES (%(run_id)s, %(name)s, %(content_type)s, %(content)s)
ON CONFLICT (run_id, name) DO UPDATE
    SET content_type = EXCLUDED.content_type, content = EXCLUDED.content, created_at = now()
