-- insight: the files of a stored report (name, type, size), report.html first.
SELECT name, content_type, octet_length(content) AS bytes, created_at
FROM rfm_report_file
WHERE run_id = %(run_id)s
ORDER BY name <> 'report.html', name
