-- Bulk path (PostgreSQL manual, "Populating a Database: Remove Foreign Key Constraints"): checking a
-- foreign key row by row costs more than inserting the row, so for a large load the foreign keys of
-- the tables named in the setting vehicle_sales.bulk_tables (comma-separated) are dropped here and
-- re-created by _bulk_fk_restore.sql after the load, in the same transaction, when the load brings
-- vehicle_sales.bulk_rows rows or more than vehicle_sales.bulk_threshold (default 50000); a
-- smaller load keeps them and is checked row by row.
-- Re-creating a foreign key validates every row in one pass: an orphan fails the statement and
-- the whole transaction rolls back, constraints included. The definitions are kept verbatim.
CREATE TEMP TABLE IF NOT EXISTS bulk_fk (tbl regclass, conname name, def text) ON COMMIT DROP;
DO $bulk$
DECLARE
    fk record;
BEGIN
    FOR fk IN
        SELECT c.conrelid::regclass AS tbl, c.conname, pg_get_constraintdef(c.oid) AS def
        FROM pg_constraint c
        WHERE c.contype = 'f'
          AND c.conrelid = ANY (string_to_array(nullif(current_setting('vehicle_sales.bulk_tables', true), ''),
                                                ',')::regclass[])
          AND coalesce(nullif(current_setting('vehicle_sales.bulk_rows', true), '')::bigint, 0)
              >= coalesce(nullif(current_setting('vehicle_sales.bulk_threshold', true), '')::bigint, 50000)
    LOOP
        INSERT INTO bulk_fk VALUES (fk.tbl, fk.conname, fk.def);
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tbl, fk.conname);
    END LOOP;
END
$bulk$;
