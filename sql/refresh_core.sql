-- Refresh customers, addresses, products, orders and order lines from the raw rows past the
-- core_refresh watermark, and advance the watermark, all in one transaction: a failure anywhere
-- (or a dropped connection) rolls everything back and the retry starts from the same watermark.
{% include '_set_actor.sql' %}

-- serialised with staging (same lock): raw_ids are only read once every earlier one is committed
SELECT pg_advisory_xact_lock(hashtext('vehicle_sales_rfm:ingest'));
-- the joins below hash up to a million delta rows: let them do it in memory, in this transaction only
SET LOCAL work_mem = '192MB';

CREATE TEMP TABLE delta ON COMMIT DROP AS
SELECT t.*,
       -- an address is identified by the text it arrived with (see V002)
       concat_ws('|', t.addressline1, t.addressline2, t.city, t.state, t.postalcode, upper(t.country)) AS source_key
FROM (
    SELECT r.raw_id,
           r.ordernumber, r.orderlinenumber, r.quantityordered, r.priceeach,
           coalesce(r.sales, round(r.quantityordered * r.priceeach, 2)) AS sales,
           r.orderdate, r.status, r.dealsize, r.msrp,
           btrim(r.productcode) AS productcode, nullif(btrim(r.productline), '') AS productline,
           btrim(r.customername) AS customername,
           nullif(btrim(r.contactlastname), '') AS contactlastname,
           nullif(btrim(r.contactfirstname), '') AS contactfirstname,
           nullif(btrim(r.phone), '') AS phone,
           nullif(btrim(r.addressline1), '') AS addressline1,
           nullif(btrim(r.addressline2), '') AS addressline2,
           nullif(btrim(r.city), '') AS city,
           nullif(btrim(r.state), '') AS state,
           nullif(btrim(r.postalcode), '') AS postalcode,
           nullif(btrim(r.country), '') AS country
    FROM raw_orders_csv r
    WHERE r.raw_id > (SELECT coalesce(max(last_id), 0) FROM etl_watermark WHERE target = 'core_refresh')
) t;
ANALYZE delta;

-- Each entity's representative row is picked by raw_id with a hash aggregate (GROUP BY) rather
-- than DISTINCT ON: no sort of the whole delta, which matters at a million lines.
CREATE TEMP TABLE refresh_stats (step text, inserted bigint, updated bigint) ON COMMIT DROP;

-- customers: the latest row of each customer carries its current contact and phone
WITH latest AS (
    SELECT d.customername, d.contactlastname, d.contactfirstname, d.phone
    FROM delta d
    JOIN (SELECT max(raw_id) AS raw_id FROM delta GROUP BY customername) pick USING (raw_id)
), upserted AS (
    INSERT INTO customers AS c (company_name, contact_last_name, contact_first_name, phone)
    SELECT customername, contactlastname, contactfirstname, phone FROM latest
    ON CONFLICT (company_name) DO UPDATE
        SET contact_last_name = EXCLUDED.contact_last_name,
            contact_first_name = EXCLUDED.contact_first_name,
            phone = EXCLUDED.phone
        WHERE (c.contact_last_name, c.contact_first_name, c.phone)
              IS DISTINCT FROM (EXCLUDED.contact_last_name, EXCLUDED.contact_first_name, EXCLUDED.phone)
    RETURNING (xmax = 0) AS inserted
)
INSERT INTO refresh_stats
SELECT 'customers', count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted;

-- addresses: new arrival texts become new address rows; an unknown country leaves country_code NULL
WITH src AS (
    SELECT c.customer_id, d.source_key, d.addressline1, d.addressline2, d.city, d.state, d.postalcode,
           a.alpha3
    FROM delta d
    JOIN (SELECT min(raw_id) AS raw_id FROM delta GROUP BY customername, source_key) pick USING (raw_id)
    JOIN customers c ON c.company_name = d.customername
    LEFT JOIN iso_country_aliases a ON a.alias = upper(d.country)
), inserted AS (
    INSERT INTO addresses (customer_id, source_key, st_addr, sub_addr, city, region, postal_code, country_code)
    SELECT customer_id, source_key, addressline1, addressline2, city, state, postalcode, alpha3 FROM src
    ON CONFLICT ON CONSTRAINT uc_cust_address_source DO NOTHING
    RETURNING 1
)
INSERT INTO refresh_stats SELECT 'addresses', count(*), 0 FROM inserted;

WITH latest AS (
    SELECT d.productcode, d.productline, d.msrp
    FROM delta d
    JOIN (SELECT max(raw_id) AS raw_id FROM delta GROUP BY productcode) pick USING (raw_id)
), upserted AS (
    INSERT INTO products AS p (product_code, product_line, msrp)
    SELECT productcode, productline, msrp FROM latest
    ON CONFLICT (product_code) DO UPDATE
        SET product_line = EXCLUDED.product_line, msrp = EXCLUDED.msrp
        WHERE (p.product_line, p.msrp) IS DISTINCT FROM (EXCLUDED.product_line, EXCLUDED.msrp)
    RETURNING (xmax = 0) AS inserted
)
INSERT INTO refresh_stats
SELECT 'products', count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted;

-- A large delta takes the bulk path for orders and order lines (see _bulk_fk_drop.sql).
SELECT set_config('vehicle_sales.bulk_tables', 'orders,order_lines', true),
       set_config('vehicle_sales.bulk_rows', (SELECT count(*) FROM delta)::text, true);
{% include '_bulk_fk_drop.sql' %}

-- orders: header fields from the order's first line
WITH src AS (
    SELECT d.ordernumber, c.customer_id, ad.address_id, d.orderdate, d.status, d.dealsize
    FROM delta d
    JOIN (SELECT min(raw_id) AS raw_id FROM delta GROUP BY ordernumber) pick USING (raw_id)
    JOIN customers c ON c.company_name = d.customername
    LEFT JOIN addresses ad ON ad.customer_id = c.customer_id AND ad.source_key = d.source_key
), upserted AS (
    INSERT INTO orders AS o (order_no, customer_id, ship_addr_id, order_date, status, deal_size)
    SELECT ordernumber, customer_id, address_id, orderdate, status, dealsize FROM src
    ON CONFLICT (order_no) DO UPDATE
        SET customer_id = EXCLUDED.customer_id, ship_addr_id = EXCLUDED.ship_addr_id,
            order_date = EXCLUDED.order_date, status = EXCLUDED.status, deal_size = EXCLUDED.deal_size
        WHERE (o.customer_id, o.ship_addr_id, o.order_date, o.status, o.deal_size)
              IS DISTINCT FROM (EXCLUDED.customer_id, EXCLUDED.ship_addr_id, EXCLUDED.order_date,
                                EXCLUDED.status, EXCLUDED.deal_size)
    RETURNING (xmax = 0) AS inserted
)
INSERT INTO refresh_stats
SELECT 'orders', count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted;

WITH inserted AS (
    INSERT INTO order_lines (order_no, line_no, product_code, quantity, price_each, sales)
    SELECT ordernumber, orderlinenumber, productcode, quantityordered, priceeach, sales FROM delta
    ON CONFLICT (order_no, line_no) DO NOTHING
    RETURNING 1
)
INSERT INTO refresh_stats SELECT 'order_lines', count(*), 0 FROM inserted;

{% include '_bulk_fk_restore.sql' %}

CREATE TEMP TABLE refresh_watermark ON COMMIT DROP AS
SELECT (SELECT coalesce(max(last_id), 0) FROM etl_watermark WHERE target = 'core_refresh') AS before,
       (SELECT max(raw_id) FROM delta) AS delta_max,
       (SELECT count(*) FROM delta) AS delta_rows;

INSERT INTO etl_watermark (target, last_id, updated_at)
SELECT 'core_refresh', delta_max, now() FROM refresh_watermark WHERE delta_max IS NOT NULL
ON CONFLICT (target) DO UPDATE SET last_id = EXCLUDED.last_id, updated_at = now();

INSERT INTO pipeline_events (step, details, airflow_dag_id, airflow_run_id, airflow_task_id)
SELECT 'refresh_core',
       jsonb_build_object(
           'delta_rows', w.delta_rows, 'watermark_before', w.before,
           'watermark_after', coalesce(w.delta_max, w.before),
           'counts', (SELECT jsonb_object_agg(step, jsonb_build_object('inserted', inserted, 'updated', updated))
                      FROM refresh_stats)),
       current_setting('vehicle_sales.dag_id', true), current_setting('vehicle_sales.run_id', true),
       current_setting('vehicle_sales.task_id', true)
FROM refresh_watermark w;

-- the task log shows this table (show_return_value_in_logs)
SELECT s.step, s.inserted, s.updated, w.delta_rows, w.before AS watermark_before,
       coalesce(w.delta_max, w.before) AS watermark_after
FROM refresh_stats s CROSS JOIN refresh_watermark w
ORDER BY array_position(ARRAY['customers', 'addresses', 'products', 'orders', 'order_lines'], s.step);
