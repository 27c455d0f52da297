{#- Macros, imported with {% import 'common/bulk_foreign_keys.sql' as bulk %}.

Bulk path (PostgreSQL manual, "Populating a Database: Remove Foreign Key Constraints"): checking a
foreign key row by row costs more than inserting the row, so for a large load the foreign keys of
the tables being filled are dropped before the load and re-created after it, in the same
transaction. Re-creating a foreign key validates every row in one pass: an orphan fails the
statement and the whole transaction rolls back, constraints included. The definitions are kept
verbatim. A smaller load keeps them and is checked row by row. The threshold is `threshold` rows,
or the session setting vehicle_sales.bulk_threshold when set (tests use it to take the bulk path
on small files). No '%' in here: the macros serve operator templates and psycopg scripts alike.
-#}
{%- set threshold = 50000 -%}

{#- Drop the foreign keys of `tables` when `rows` (an SQL expression) reaches the threshold. -#}
{%- macro drop_foreign_keys(tables, rows) -%}
CREATE TEMP TABLE IF NOT EXISTS bulk_fk (tbl regclass, conname name, def text) ON COMMIT DROP;
DO $bulk$
DECLARE
    fk record;
BEGIN
    FOR fk IN
        SELECT c.conrelid::regclass AS tbl, c.conname, pg_get_constraintdef(c.oid) AS def
        FROM pg_constraint c
        WHERE c.contype = 'f'
          AND c.conrelid = ANY (ARRAY[{% for t in tables %}'{{ t }}'{{ ", " if not loop.last }}{% endfor %}]::regclass[])
          AND ({{ rows }}) >= coalesce(nullif(current_setting('vehicle_sales.bulk_threshold', true), '')::bigint,
                                       {{ threshold }})
    LOOP
        INSERT INTO bulk_fk VALUES (fk.tbl, fk.conname, fk.def);
        EXECUTE 'ALTER TABLE ' || fk.tbl || ' DROP CONSTRAINT ' || quote_ident(fk.conname);
    END LOOP;
END
$bulk$;
{%- endmacro -%}

{#- Re-create what drop_foreign_keys dropped (validating every row once). -#}
{%- macro restore_foreign_keys() -%}
DO $bulk$
DECLARE
    fk record;
BEGIN
    FOR fk IN SELECT tbl, conname, def FROM bulk_fk LOOP
        EXECUTE 'ALTER TABLE ' || fk.tbl || ' ADD CONSTRAINT ' || quote_ident(fk.conname) || ' ' || fk.def;
    END LOOP;
    DELETE FROM bulk_fk;
END
$bulk$;
{%- endmacro -%}
