-- Re-create the foreign keys _bulk_fk_drop.sql dropped (validating every row once).
DO $bulk$
DECLARE
    fk record;
BEGIN
    FOR fk IN SELECT tbl, conname, def FROM bulk_fk LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.tbl, fk.conname, fk.def);
    END LOOP;
    DELETE FROM bulk_fk;
END
$bulk$;
