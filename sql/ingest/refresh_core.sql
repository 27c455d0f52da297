-- refresh_core: refresh customers, addresses, products, orders and order lines from the raw rows
-- past the core_refresh watermark, and advance the watermark, all in one transaction: a failure
-- anywhere (or a dropped connection) rolls everything back and the retry starts from the same
-- watermark. One file per entity (refresh/), in the order the foreign keys need.
{% import 'common/bulk_foreign_keys.sql' as bulk %}
{% include 'common/set_actor.sql' %}

-- serialised with staging (same lock): raw_ids are only read once every earlier one is committed
{{ advisory_xact_lock('ingest') }};
-- the joins below hash up to a million delta rows: let them do it in memory, in this transaction only
SET LOCAL work_mem = '192MB';

{% include 'ingest/refresh/delta.sql' %}
{% include 'ingest/refresh/customers.sql' %}
{% include 'ingest/refresh/addresses.sql' %}
{% include 'ingest/refresh/products.sql' %}

-- a large delta takes the bulk path for orders and order lines (see common/bulk_foreign_keys.sql)
{{ bulk.drop_foreign_keys(['orders', 'order_lines'], '(SELECT count(*) FROM delta)') }}
{% include 'ingest/refresh/orders.sql' %}
{% include 'ingest/refresh/order_lines.sql' %}
{{ bulk.restore_foreign_keys() }}

{% include 'ingest/refresh/watermark.sql' %}
