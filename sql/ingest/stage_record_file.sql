-- stage_raw, last statement of the file's transaction: the file is staged, with its counts.
UPDATE source_files
   SET staged_at = now(), encoding = %(encoding)s, rows_read = %(read)s, rows_loaded = %(loaded)s,
       rows_duplicate = %(duplicate)s, rows_rejected = %(rejected)s
 WHERE file_id = %(file_id)s
