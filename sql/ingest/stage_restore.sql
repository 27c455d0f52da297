-- stage_raw, a file on the bulk path: once its rows are in (straight in, and classified by
-- stage_load.sql), what stage_begin.sql dropped is restored, every row checked (see
-- common/bulk_load.sql).
{% import 'common/bulk_load.sql' as bulk %}
-- the planner needs to know how big raw_orders_csv has become (refresh_core reads it next)
{{ bulk.coarse_analyze('raw_orders_csv (raw_id, source_file_id, ordernumber, orderlinenumber, customername, productcode)',
                       bulk.taken()) }}
{{ bulk.restore_constraints() }}
