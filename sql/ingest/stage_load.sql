-- stage_raw: classify the rows staging could not load directly and load the new ones into
-- raw_orders_csv (stage_restore.sql then restores what stage_begin.sql dropped for a bulk load).
-- Input: stage_rows (valid rows whose order number was already loaded, or whose key repeats an
-- earlier line of this file) and stage_bad (rows that failed validation). Parameters: %(file_id)s.
-- Structure: `columns` (the export's columns) and `value_columns` (all but the key), in
-- raw_orders_csv's names, from vehicle_sales.common.columns.
-- A key (ordernumber, orderlinenumber) seen before with identical values is a duplicate; with
-- different values it is a conflict, rejected with a pointer to the other version. The earliest
-- line of a file wins within the file; what is already loaded wins across files. A row of
-- raw_orders_csv from this very file is an earlier line of it (it was loaded directly).
{% import 'common/bulk_load.sql' as bulk %}

INSERT INTO raw_orders_rejects (source_file_id, source_line, raw_text, reason, ordernumber, orderlinenumber)
SELECT %(file_id)s, source_line, raw_text, reason, ordernumber, orderlinenumber
FROM stage_bad;

-- A repeat is compared on its values: everything but the key and where the row came from, as the
-- text of a row value (unambiguous: fields are quoted where needed, NULL differs from '').
CREATE TEMP TABLE stage_classified ON COMMIT DROP AS
WITH ranked AS (
    SELECT s.*,
           row_number() OVER w AS occurrence,
           first_value(source_line) OVER w AS first_line,
           ROW({% for c in value_columns %}s.{{ c }}{{ ", " if not loop.last }}{% endfor %})::text AS vals
    FROM stage_rows s
    WINDOW w AS (PARTITION BY ordernumber, orderlinenumber ORDER BY source_line)
), existing AS (
    SELECT e.raw_id, e.ordernumber, e.orderlinenumber, e.source_line,
           e.source_file_id = %(file_id)s AS from_this_file,
           ROW({% for c in value_columns %}e.{{ c }}{{ ", " if not loop.last }}{% endfor %})::text AS vals
    FROM raw_orders_csv e
    JOIN (SELECT DISTINCT ordernumber, orderlinenumber FROM stage_rows) k USING (ordernumber, orderlinenumber)
)
SELECT r.*,
       e.raw_id AS existing_raw_id,
       CASE WHEN e.from_this_file THEN e.source_line ELSE r.first_line END AS earlier_line,
       -- the earlier line's text when it is staged here too; for an earlier line loaded directly
       -- staging.py fills conflicting_text from the file afterwards
       CASE WHEN e.from_this_file THEN NULL ELSE f.raw_text END AS first_raw_text,
       CASE
           WHEN e.from_this_file THEN      -- an earlier line of this file, loaded directly
               CASE WHEN r.vals = e.vals THEN 'duplicate' ELSE 'conflict_in_file' END
           WHEN r.occurrence > 1 THEN      -- an earlier line of this file, staged here too
               CASE WHEN r.vals = f.vals THEN 'duplicate' ELSE 'conflict_in_file' END
           WHEN e.raw_id IS NULL THEN 'new'
           WHEN r.vals = e.vals THEN 'duplicate'
           ELSE 'conflict_loaded'
       END AS verdict
FROM ranked r
LEFT JOIN ranked f
       ON r.occurrence > 1 AND f.source_line = r.first_line
LEFT JOIN existing e
       ON e.ordernumber = r.ordernumber AND e.orderlinenumber = r.orderlinenumber;

INSERT INTO raw_orders_csv (raw_id, source_file_id, source_line, {{ columns | join(", ") }})
SELECT raw_id, %(file_id)s, source_line, {{ columns | join(", ") }}
FROM stage_classified
WHERE verdict = 'new'
ORDER BY source_line;

-- conflicts keep both versions: the rejected row's text, and the loaded version (by raw_id) or,
-- within a file, the text of the earlier line
INSERT INTO raw_orders_rejects (source_file_id, source_line, raw_text, reason, ordernumber,
                                orderlinenumber, conflicting_raw_id, conflicting_text)
SELECT %(file_id)s, c.source_line, c.raw_text,
       CASE c.verdict
           WHEN 'conflict_loaded' THEN format(
               'conflicting duplicate: order %%s line %%s is already loaded (raw_id %%s) with different values',
               c.ordernumber, c.orderlinenumber, c.existing_raw_id)
           ELSE format(
               'conflicting duplicate: order %%s line %%s appears earlier in this file (line %%s) with different values',
               c.ordernumber, c.orderlinenumber, c.earlier_line)
       END,
       c.ordernumber::text, c.orderlinenumber::text,
       coalesce(c.existing_raw_id, loaded.raw_id),
       c.first_raw_text
FROM stage_classified c
LEFT JOIN raw_orders_csv loaded
       ON c.verdict = 'conflict_in_file' AND c.existing_raw_id IS NULL
      AND loaded.ordernumber = c.ordernumber AND loaded.orderlinenumber = c.orderlinenumber
WHERE c.verdict IN ('conflict_loaded', 'conflict_in_file');
