-- insight: one file of a stored report.
SELECT content_type, content FROM rfm_report_file WHERE run_id = %(run_id)s AND name = %(name)s
