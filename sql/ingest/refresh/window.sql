-- refresh_core, the delta's window: the watermark, an upper bound of the delta's size (raw_ids are
-- dense, gaps only where lines were rejected) read from the key alone, and whether it is large (a
-- bulk load for the tables it fills: common/bulk_load.sql; decided here once, for the foreign keys
-- dropped or kept and the plans of the statements that read the delta); each entity's counts, set
-- by its statement (see `count` in _macros.sql); once the delta is refreshed, its last raw_id and
-- its size (watermark.sql).
-- One temporary table for all of it, of fixed-width columns only: a temporary table costs about a
-- millisecond to create and drop, and one with a column of variable width (text, an array, numeric)
-- has a TOAST table and index besides, created and dropped with it.
CREATE TEMP TABLE refresh_window ON COMMIT DROP AS
SELECT w.after, {% for s in refresh.steps %}0::bigint AS {{ s }}_inserted, 0::bigint AS {{ s }}_updated,
       {% endfor %}NULL::bigint AS delta_max, NULL::bigint AS delta_rows,
       w.delta_bound, {{ bulk.large_load('w.delta_bound', ['addresses', 'orders', 'order_lines']) }} AS large
FROM (SELECT after, greatest(coalesce((SELECT max(raw_id) FROM raw_orders_csv), 0) - after, 0) AS delta_bound
      FROM (SELECT coalesce(max(last_id), 0) AS after FROM etl_watermark WHERE target = 'core_refresh') a) w;
