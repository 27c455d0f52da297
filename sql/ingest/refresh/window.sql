-- refresh_core, the delta's window: the watermark, an upper bound of the delta's size (raw_ids are
-- dense, gaps only where lines were rejected) read from the key alone, and whether it is large (a
-- bulk load for the tables it fills: common/bulk_load.sql; decided here once, for the foreign keys
-- dropped or kept and the plans of the statements that read the delta); each entity's counts, set
-- by its statement (see `count` in _macros.sql); once the delta is refreshed, its last raw_id and
-- its size (watermark.sql). One row of a work table (V009). The work tables are empty between
-- refreshes (each empties them at its end: watermark.sql); emptied here again whatever was left.
{{ refresh.clear_work_tables(['refresh_window'] + refresh.picks) }}
INSERT INTO refresh_window (after, {% for s in refresh.steps %}{{ s }}_inserted, {{ s }}_updated, {% endfor %}delta_max, delta_rows,
                            delta_bound, large)
SELECT w.after, {% for s in refresh.steps %}0::bigint AS {{ s }}_inserted, 0::bigint AS {{ s }}_updated,
       {% endfor %}NULL::bigint AS delta_max, NULL::bigint AS delta_rows,
       w.delta_bound, {{ bulk.large_load('w.delta_bound', ['addresses', 'orders', 'order_lines']) }} AS large
FROM (SELECT after, greatest(coalesce((SELECT max(raw_id) FROM raw_orders_csv), 0) - after, 0) AS delta_bound
      FROM (SELECT coalesce(max(last_id), 0) AS after FROM etl_watermark WHERE target = 'core_refresh') a) w;
