-- refresh_core: refresh customers, addresses, products, orders and order lines from the raw rows
-- past the core_refresh watermark (the delta), and advance the watermark, all in one transaction: a
-- failure anywhere (or a dropped connection) rolls everything back and the retry starts from the
-- same watermark. One file per entity (refresh/), in the order the foreign keys need.
--
-- Speed: each entity reads the delta straight from raw_orders_csv, picking its representative row
-- per key by raw_id with a hash aggregate; a large delta is scanned in parallel (refresh/window.sql
-- tells the planner), and takes the bulk path for orders and order lines.
{% import 'common/bulk_load.sql' as bulk %}
{% import 'ingest/refresh/_macros.sql' as refresh %}
{% include 'common/set_actor.sql' %}

-- serialised with staging (same lock): raw_ids are only read once every earlier one is committed
{{ advisory_xact_lock('ingest') }};
-- the aggregates below hash up to a million delta rows: let them do it in memory; the picked rows are
-- looked up by raw_id in a warm table (an index probe, not a scan of all raw rows); and the keys
-- the bulk path rebuilds sort in memory. In this transaction only.
SET LOCAL work_mem = '192MB';
SET LOCAL random_page_cost = 1.1;
SET LOCAL maintenance_work_mem = '256MB';
SET LOCAL jit = off;  -- these statements run once over many rows: compiling them costs more than it saves

{% include 'ingest/refresh/window.sql' %}
{% include 'ingest/refresh/picks.sql' %}
{{ refresh.scan_whole_delta(false) }}

-- a large delta (refresh_window.large) takes the bulk path (see common/bulk_load.sql): the foreign
-- keys of addresses, orders and order lines, and when the delta is at least as large as a table,
-- its secondary indexes (and order lines' key: the other two are upserted into, by key)
{%- set delta_rows, large = '(SELECT delta_bound FROM refresh_window)', '(SELECT large FROM refresh_window)' %}
{{ bulk.drop_constraints(['addresses', 'orders'], delta_rows, indexes=True, large=large) }}
{{ bulk.drop_constraints(['order_lines'], delta_rows, keys=True, large=large) }}
{% include 'ingest/refresh/customers.sql' %}
{{ bulk.coarse_analyze('customers (customer_id, company_name)', large) }}
{% include 'ingest/refresh/addresses.sql' %}
{{ bulk.coarse_analyze('addresses (address_id, customer_id, source_key)', large) }}
{% include 'ingest/refresh/products.sql' %}
{% include 'ingest/refresh/orders.sql' %}
{{ refresh.scan_whole_delta(true) }}
{% include 'ingest/refresh/order_lines.sql' %}
{{ refresh.scan_whole_delta(false) }}
{{ bulk.restore_constraints() }}

{% include 'ingest/refresh/watermark.sql' %}
