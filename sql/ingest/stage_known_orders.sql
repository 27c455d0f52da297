-- stage_raw, before the file's transaction locks anything: how large raw_orders_csv is (the planner's
-- count) and whether a file of %(rows)s data lines takes the bulk path (common/bulk_load.sql), which
-- locks raw_orders_csv until the commit. staging.KnownOrders chooses from them how to look up the
-- orders already loaded.
{% import 'common/bulk_load.sql' as bulk %}
SELECT greatest(reltuples, 0) AS estimate, %(rows)s >= {{ bulk.threshold_sql() }} AS bulk
FROM pg_class WHERE oid = 'raw_orders_csv'::regclass
