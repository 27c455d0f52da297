-- refresh_core, the delta's window: the watermark, an upper bound of the delta's size (raw_ids are
-- dense, gaps only where lines were rejected) read from the key alone, and whether it is large (as
-- large as a bulk load: common/bulk_load.sql); once the delta is refreshed, its last raw_id and its
-- size (watermark.sql).
CREATE TEMP TABLE refresh_window ON COMMIT DROP AS
SELECT w.after, NULL::bigint AS delta_max, NULL::numeric AS delta_rows,
       greatest(coalesce((SELECT max(raw_id) FROM raw_orders_csv), 0) - w.after, 0) AS delta_bound,
       greatest(coalesce((SELECT max(raw_id) FROM raw_orders_csv), 0) - w.after, 0) >= {{ bulk.threshold_sql() }} AS large
FROM (SELECT coalesce(max(last_id), 0) AS after FROM etl_watermark WHERE target = 'core_refresh') w;

-- entities' counts as they are refreshed
CREATE TEMP TABLE refresh_stats (step text, inserted bigint, updated bigint) ON COMMIT DROP;
