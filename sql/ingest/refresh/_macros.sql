{#- Macros of refresh_core, imported as `refresh`. -#}
{% import 'common/bulk_load.sql' as bulk %}

{#- The key of an address: the text it arrived with, each part trimmed (empty = NULL), joined by '|'
   (see V002: geocoding may standardise the address fields, the key stays). `r`: a raw_orders_csv row. -#}
{%- macro source_key(r) -%}
concat_ws('|', nullif(btrim({{ r }}.addressline1), ''), nullif(btrim({{ r }}.addressline2), ''),
          nullif(btrim({{ r }}.city), ''), nullif(btrim({{ r }}.state), ''), nullif(btrim({{ r }}.postalcode), ''),
          upper(nullif(btrim({{ r }}.country), '')))
{%- endmacro -%}

{#- Whether the text `x` is not blank: btrim(x) <> '' (NULL: not), decided by its first character when
   that is printable and not a space (most texts: no copy made), else by btrim. -#}
{%- macro nonblank(x) -%}
(ascii({{ x }}) > 32 OR btrim({{ x }}) <> '')
{%- endmacro -%}

{#- The entities refresh_core counts, in the order its table shows them. -#}
{%- set steps = ['customers', 'addresses', 'unknown_country', 'products', 'orders', 'order_lines'] -%}

{#- Set in refresh_window the counts of `steps` (some of the names above) to the row of `select`: for
   each step in turn, the rows it inserted, then those it updated. An UPDATE without its ';', ending
   a statement whose CTEs did the work (they are visible to it). -#}
{%- macro count(steps, select) -%}
UPDATE refresh_window w
SET {% for s in steps %}{{ s }}_inserted = n.inserted_{{ loop.index }}, {{ s }}_updated = n.updated_{{ loop.index }}{{ ", " if not loop.last }}{% endfor %}
FROM ({{ select }}) AS n ({% for s in steps %}inserted_{{ loop.index }}, updated_{{ loop.index }}{{ ", " if not loop.last }}{% endfor %})
{%- endmacro -%}

{#- The counts of refresh_window `w` as rows (step, inserted, updated, position in `steps`): a FROM item. -#}
{%- macro counts(w) -%}
(VALUES {% for s in steps %}('{{ s }}', {{ w }}.{{ s }}_inserted, {{ w }}.{{ s }}_updated, {{ loop.index }}){{ ", " if not loop.last }}{% endfor %}) AS s (step, inserted, updated, position)
{%- endmacro -%}

{#- refresh_core's work tables (V009) that hold the picks (picks.sql), and the size past which
   clear_work_tables truncates them rather than deleting their rows. -#}
{%- set picks = ['pick_grain', 'pick_product', 'pick_order'] -%}
{%- set work_truncate_bytes = 1048576 -%}

{#- Fill the pick table `name` (its `columns`, a text) with the rows of the SELECT the call's body is:
   for a small delta the work table of that name (V009: no table made and dropped per run, about
   1.4 ms each); for a large one (refresh_window.large) a temporary table of that name, which hides
   the work table until the commit drops it: a large delta's picks read all its raw rows, and
   PostgreSQL 15 runs the SELECT of CREATE TABLE AS in parallel, an INSERT's in one process (at
   100,000 lines, pick_grain's 73 ms against 98 ms). Either way, what follows reads `name`. -#}
{%- macro pick(name, columns) -%}
DO $pick$
BEGIN
    EXECUTE CASE WHEN (SELECT large FROM refresh_window)
                 THEN 'CREATE TEMP TABLE {{ name }} ({{ columns }}) ON COMMIT DROP AS '
                 ELSE 'INSERT INTO {{ name }} ({{ columns }}) ' END
            || $select${{ caller() }}$select$;
END
$pick$;
{%- endmacro -%}

{#- Empty the work tables `tables` when the SQL condition `when` holds: by DELETE while they are
   small, by TRUNCATE once they take more than work_truncate_bytes (a TRUNCATE gives each table a new
   file, about a millisecond apiece; a DELETE leaves its rows dead until a VACUUM, and where
   autovacuum does not run, each refresh would read past more of them). -#}
{%- macro clear_work_tables(tables, when='true') -%}
DO $work$
BEGIN
    IF {{ when }} THEN
        IF {% for t in tables %}pg_relation_size('{{ t }}'){{ " + " if not loop.last }}{% endfor %} > {{ work_truncate_bytes }} THEN
            TRUNCATE {{ tables | join(', ') }};
        ELSE
            {%- for t in tables %}
            DELETE FROM {{ t }};
            {%- endfor %}
        END IF;
    END IF;
END
$work$;
{%- endmacro -%}

{#- The delta's rows: raw_orders_csv past the watermark. -#}
{%- macro in_delta(r) -%}
{{ r }}.raw_id > (SELECT after FROM refresh_window)
{%- endmacro -%}

{#- Planner hint. The delta's bound is a parameter to the planner, which then guesses a third of the
   table whatever the delta's size. For a large delta (refresh_window.large) a parallel sequential
   scan is several times faster than the index it would pick; for a small one, index probes are (an
   anti-join that hashes all order lines of the warehouse to check 10,000 new ones is not).
   On (true): index scans and nested loops off for a large delta, and its partial aggregates
   gathered cheaply (guessing a third of the table, the planner would aggregate it in one process),
   hash and merge joins off for a small one, while the whole-delta statements run; off (false):
   back to the session's settings.
   (Nested loops off: order lines are checked against order_lines while it is being filled, and a
   table vacuumed while empty tells the planner it holds nothing: a nested loop over it rescans
   every row the statement has added so far, for each row it adds.) -#}
{%- macro scan_whole_delta(on) -%}
{%- if on -%}
SELECT set_config('enable_indexscan', CASE WHEN large THEN 'off' ELSE current_setting('enable_indexscan') END, true),
       set_config('enable_bitmapscan', CASE WHEN large THEN 'off' ELSE current_setting('enable_bitmapscan') END, true),
       set_config('enable_nestloop', CASE WHEN large THEN 'off' ELSE current_setting('enable_nestloop') END, true),
       set_config('enable_hashjoin', CASE WHEN large THEN current_setting('enable_hashjoin') ELSE 'off' END, true),
       set_config('enable_mergejoin', CASE WHEN large THEN current_setting('enable_mergejoin') ELSE 'off' END, true),
       set_config('parallel_tuple_cost', CASE WHEN large THEN '{{ bulk.cheap_gather }}' ELSE current_setting('parallel_tuple_cost') END, true)
FROM refresh_window;
{%- else -%}
RESET enable_indexscan;
RESET enable_bitmapscan;
RESET enable_nestloop;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET parallel_tuple_cost;
{%- endif -%}
{%- endmacro -%}
