{#- Macros, imported with {% import 'common/bulk_load.sql' as bulk %}.

Bulk path (PostgreSQL manual, "Populating a Database": remove indexes and foreign key constraints):
checking a foreign key or inserting into an index row by row costs more than inserting the row, so
for a large load the constraints of the tables being filled are dropped before the load and
re-created after it, in the same transaction. Re-creating a constraint validates every row in one
pass (a primary key or unique index is built by one sort): an orphan or a duplicate fails the
statement and the whole transaction rolls back, constraints included. The definitions are kept
verbatim (pg_get_constraintdef).

* Foreign keys of the tables: dropped when the load is large (`large_load`): it brings `threshold`
  rows or more, and at least a twelfth (1 / `share`, about 8 %) of what the largest of the tables
  holds already. Re-creating a foreign key reads its whole table, while checking a row costs a
  query of its own: into a warehouse of 1,000,000 lines, a file of 60,000 lines was staged and
  refreshed in 1.65-1.85 s row by row against 2.1-2.3 s by the bulk path; 80,000 lines took about
  as long either way (2.5-3.4 s against 3.0-3.2 s), 100,000 lines 2.8-3.1 s by the bulk path
  against 3.0-3.2 s, 150,000 lines 3.2-4.6 s against 3.8-4.8 s.
* When the load is also at least as large as what the table holds already (rebuilding an index over
  a big table costs more than adding a few rows to it):
  - keys=True: primary keys and unique constraints, with the foreign keys of other tables that
    reference them (for a table the load does not upsert into: an upsert needs its key);
  - indexes=True: the other indexes (pg_get_indexdef gives them back as they were).

A smaller load keeps everything and is checked row by row. The threshold is the session setting
vehicle_sales.bulk_threshold when set (tests use it to take the bulk path on small files).
No '%' in here: the macros serve operator templates and psycopg scripts alike.
-#}
{%- set threshold = 50000 -%}

{#- the size of a table from which its indexes are built in parallel (see restore_constraints) -#}
{%- set parallel_build_size = '64MB' -%}

{#- parallel_tuple_cost (default 0.1) for a statement that gathers many partial groups from its
   parallel workers over a large load: at the default the planner, which guesses a third of the
   rows, aggregates in one process; passing a group on is cheap next to hashing the rows. -#}
{%- set cheap_gather = '0.001' -%}

{#- The threshold, as an SQL expression (the setting, else the default). -#}
{%- macro threshold_sql() -%}
coalesce(nullif(current_setting('vehicle_sales.bulk_threshold', true), '')::bigint, {{ threshold }})
{%- endmacro -%}

{#- a load is large from a twelfth of its largest table (see large_load) -#}
{%- set share = 12 -%}

{#- About how many rows the table of pg_class row `c` holds now: its count at the last VACUUM or
   ANALYZE scaled to its present size in pages, as the planner estimates it (0 if never counted). -#}
{%- macro estimated_rows(c) -%}
CASE WHEN {{ c }}.reltuples > 0 AND {{ c }}.relpages > 0
     THEN {{ c }}.reltuples / {{ c }}.relpages * (pg_relation_size({{ c }}.oid) / current_setting('block_size')::int)
     ELSE 0 END
{%- endmacro -%}

{#- Whether a load of `rows` rows (an SQL expression) into `tables` takes the bulk path, as an SQL
   expression: at least the threshold, and at least a twelfth of the largest table's rows (estimated). -#}
{%- macro large_load(rows, tables) -%}
(({{ rows }}) >= {{ threshold_sql() }}
 AND ({{ rows }}) * {{ share }} >= (SELECT coalesce(max({{ estimated_rows('bulk_rel') }}), 0) FROM pg_class bulk_rel
     WHERE bulk_rel.oid = ANY (ARRAY[{% for t in tables %}'{{ t }}'{{ ", " if not loop.last }}{% endfor %}]::regclass[])))
{%- endmacro -%}

{#- What is dropped is kept in bulk_constraints, a temporary table created by the first drop of the
   transaction that drops anything (a small load creates none: its transaction saves the table's
   creation and removal), and vehicle_sales.bulk_taken is 'on' (this transaction) until it is restored.
   `large`: whether the load takes the bulk path, an SQL expression (default: large_load of `rows`
   into `tables`); a transaction whose other statements plan for one path or the other passes the
   decision it made once (refresh_core: the delta's plans and the foreign keys kept or dropped must
   agree, or each row's check of a kept key is planned as a scan of the whole referenced table). -#}
{%- macro drop_constraints(tables, rows, keys=False, indexes=False, large=None) -%}
DO $bulk$
DECLARE
    c record;
    n_rows bigint := ({{ rows }});
    tables regclass[] := ARRAY[{% for t in tables %}'{{ t }}'{{ ", " if not loop.last }}{% endfor %}]::regclass[];
    big regclass[];
BEGIN
    IF NOT {{ large if large else large_load('n_rows', tables) }} THEN
        RETURN;
    END IF;
    CREATE TEMP TABLE IF NOT EXISTS bulk_constraints (step int, tbl regclass, conname name, def text) ON COMMIT DROP;
    PERFORM set_config('vehicle_sales.bulk_taken', 'on', true);
    -- the tables whose keys or indexes are rebuilt: the load is at least as large as their content
    SELECT coalesce(array_agg(t), '{}') INTO big
    FROM unnest(tables) t JOIN pg_class r ON r.oid = t
    WHERE n_rows >= greatest(r.reltuples, 0);
    FOR c IN
        SELECT CASE WHEN k.contype = 'f' THEN 2 ELSE 1 END AS step, k.conrelid::regclass AS tbl, k.conname,
               pg_get_constraintdef(k.oid) AS def
        FROM pg_constraint k
        WHERE (k.contype = 'f' AND k.conrelid = ANY (tables))
        {%- if keys %}
           OR (k.contype = 'f' AND k.confrelid = ANY (big))
           OR (k.contype IN ('p', 'u') AND k.conrelid = ANY (big))
        {%- endif %}
        ORDER BY 1 DESC  -- foreign keys first: a referenced key cannot go before them
    LOOP
        INSERT INTO bulk_constraints VALUES (c.step, c.tbl, c.conname, c.def);
        EXECUTE 'ALTER TABLE ' || c.tbl || ' DROP CONSTRAINT ' || quote_ident(c.conname);
    END LOOP;
    {%- if indexes %}
    -- step 0: secondary indexes (no constraint behind them), re-created first
    FOR c IN
        SELECT i.indrelid::regclass AS tbl, x.relname AS conname, pg_get_indexdef(i.indexrelid) AS def
        FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
        WHERE i.indrelid = ANY (big)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
    LOOP
        INSERT INTO bulk_constraints VALUES (0, c.tbl, c.conname, c.def);
        EXECUTE 'DROP INDEX ' || quote_ident(c.conname);
    END LOOP;
    {%- endif %}
END
$bulk$;
{%- endmacro -%}

{#- Re-create what drop_constraints dropped: indexes, keys, then the foreign keys (validating every row). -#}
{%- macro restore_constraints() -%}
DO $bulk$
DECLARE
    c record;
    nestloop CONSTANT text := current_setting('enable_nestloop');
    parallel_size CONSTANT text := current_setting('min_parallel_table_scan_size');
BEGIN
    IF NOT {{ taken() }} THEN
        RETURN;  -- nothing was dropped in this transaction (or it is restored already)
    END IF;
    -- validating a foreign key joins the whole table to the referenced one: never by nested loop.
    -- The statistics of a table filled in this transaction are stale (a table vacuumed while empty
    -- says 0 rows: a nested loop over it would compare every row with every key, for hours).
    PERFORM set_config('enable_nestloop', 'off', true);
    -- an index is built (and a key validated) by parallel workers only on a table of {{ parallel_build_size }} or
    -- more: on a smaller one, starting them costs more than they save (the default, 8MB, sends two
    -- workers to build the keys of 100,000 raw rows: 40 and 46 ms against 29 and 40 ms alone)
    PERFORM set_config('min_parallel_table_scan_size', '{{ parallel_build_size }}', true);
    FOR c IN SELECT step, tbl, conname, def FROM bulk_constraints ORDER BY step, tbl::text, conname LOOP
        IF c.step = 0 THEN
            EXECUTE c.def;  -- CREATE INDEX ..., as it was
        ELSE
            EXECUTE 'ALTER TABLE ' || c.tbl || ' ADD CONSTRAINT ' || quote_ident(c.conname) || ' ' || c.def;
        END IF;
    END LOOP;
    DELETE FROM bulk_constraints;
    PERFORM set_config('vehicle_sales.bulk_taken', 'off', true);
    PERFORM set_config('enable_nestloop', nestloop, true);
    PERFORM set_config('min_parallel_table_scan_size', parallel_size, true);
END
$bulk$;
{%- endmacro -%}

{#- Whether the bulk path dropped anything in this transaction, not restored yet (an SQL boolean expression). -#}
{%- macro taken() -%}
coalesce(current_setting('vehicle_sales.bulk_taken', true) = 'on', false)
{%- endmacro -%}

{#- A coarse ANALYZE of `targets` (an ANALYZE target list: tables, each with the columns the statements
   that follow join or filter on) when the SQL condition `when` holds: after a bulk load the planner
   must know about how big the table has become (a table vacuumed while empty says 0 rows, and a
   nested loop over "0 rows" of 30,000 customers is 10^9 comparisons). Coarse: 3,000 rows sampled
   (statistics target 10 for this statement, against 30,000 over 25 text columns, which was the
   largest fixed cost of staging), and only those columns (the table's size is counted whatever
   the list; at 100,000 raw rows all 28 columns took 39 ms, six of them 14 ms). The statistics are
   committed with the load; autovacuum refines them later (an ANALYZE of some columns leaves the
   table's count of changes since its last analysis as it was, so autovacuum still analyses it whole). -#}
{%- macro coarse_analyze(targets, when) -%}
DO $analyze$
DECLARE
    target CONSTANT text := current_setting('default_statistics_target');
BEGIN
    IF {{ when }} THEN
        PERFORM set_config('default_statistics_target', '10', true);
        ANALYZE {{ targets }};
        PERFORM set_config('default_statistics_target', target, true);
    END IF;
END
$analyze$;
{%- endmacro -%}
