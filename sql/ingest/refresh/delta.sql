-- refresh_core, the delta: raw rows past the core_refresh watermark, trimmed (empty = NULL)
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
