-- refresh_core, the delta's window: the watermark, an upper bound of the delta's size (raw_ids are
-- dense, gaps only where lines were rejected) read from the key alone, and whether it is large (as
-- large as a bulk load: common/bulk_load.sql); each entity's counts as it is refreshed (a step, the
-- rows it inserted and updated, appended to three arrays by each entity's statement: see `count`
-- in _macros.sql); once the delta is refreshed, its last raw_id and its size (watermark.sql).
-- (One temporary table for all of it: each costs about a millisecond to create and drop.)
CREATE TEMP TABLE refresh_window ON COMMIT DROP AS
SELECT w.after, '{}'::text[] AS steps, '{}'::bigint[] AS inserted, '{}'::bigint[] AS updated,
       NULL::bigint AS delta_max, NULL::numeric AS delta_rows,
       greatest(coalesce((SELECT max(raw_id) FROM raw_orders_csv), 0) - w.after, 0) AS delta_bound,
       greatest(coalesce((SELECT max(raw_id) FROM raw_orders_csv), 0) - w.after, 0) >= {{ bulk.threshold_sql() }} AS large
FROM (SELECT coalesce(max(last_id), 0) AS after FROM etl_watermark WHERE target = 'core_refresh') w;
