{#- Macros of refresh_core, imported as `refresh`. -#}

{#- The key of an address: the text it arrived with, each part trimmed (empty = NULL), joined by '|'
   (see V002: geocoding may standardise the address fields, the key stays). `r`: a raw_orders_csv row. -#}
{%- macro source_key(r) -%}
concat_ws('|', nullif(btrim({{ r }}.addressline1), ''), nullif(btrim({{ r }}.addressline2), ''),
          nullif(btrim({{ r }}.city), ''), nullif(btrim({{ r }}.state), ''), nullif(btrim({{ r }}.postalcode), ''),
          upper(nullif(btrim({{ r }}.country), '')))
{%- endmacro -%}

{#- The delta's rows: raw_orders_csv past the watermark. -#}
{%- macro in_delta(r) -%}
{{ r }}.raw_id > (SELECT after FROM refresh_window)
{%- endmacro -%}

{#- Planner hint. The delta's bound is a parameter to the planner, which then guesses a third of the
   table and reads it by index; for a large delta (refresh_window.large) a parallel sequential scan
   is several times faster. On (true): index scans off while whole-delta scans run, if the delta is
   large; off (false): back to the session's settings, for the statements that look rows up by key. -#}
{%- macro scan_whole_delta(on) -%}
{%- if on -%}
SELECT set_config('enable_indexscan', CASE WHEN large THEN 'off' ELSE current_setting('enable_indexscan') END, true),
       set_config('enable_bitmapscan', CASE WHEN large THEN 'off' ELSE current_setting('enable_bitmapscan') END, true)
FROM refresh_window;
{%- else -%}
RESET enable_indexscan;
RESET enable_bitmapscan;
{%- endif -%}
{%- endmacro -%}
