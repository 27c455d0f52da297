-- stage_raw: conflicts whose earlier version is a line of this file that was loaded directly: the
-- line numbers whose text (read again from the file) becomes the reject's conflicting_text.
SELECT r.source_line, j.reject_id
FROM raw_orders_rejects j
JOIN raw_orders_csv r ON r.raw_id = j.conflicting_raw_id AND r.source_file_id = j.source_file_id
WHERE j.source_file_id = %(file_id)s AND j.conflicting_text IS NULL
