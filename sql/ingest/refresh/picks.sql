-- refresh_core, the representative raw row of each entity in the delta, picked by raw_id with a hash
-- aggregate (no sort): a customer's latest row carries its current contact and phone, a product's
-- latest its line and MSRP; an address text's first row and an order's first row carry theirs.
{{ refresh.scan_whole_delta(true) }}

-- (each groups the raw texts first, as they stand, and normalises the few distinct ones after)
CREATE TEMP TABLE pick_customer ON COMMIT DROP AS
SELECT btrim(g.customername) AS customername, max(g.raw_id) AS raw_id
FROM (SELECT r.customername, max(r.raw_id) AS raw_id FROM raw_orders_csv r
      WHERE {{ refresh.in_delta('r') }} GROUP BY 1) g
GROUP BY 1;

CREATE TEMP TABLE pick_address ON COMMIT DROP AS
SELECT btrim(g.customername) AS customername, {{ refresh.source_key('g') }} AS source_key, min(g.raw_id) AS raw_id
FROM (SELECT r.customername, r.addressline1, r.addressline2, r.city, r.state, r.postalcode, r.country,
             min(r.raw_id) AS raw_id
      FROM raw_orders_csv r WHERE {{ refresh.in_delta('r') }} GROUP BY 1, 2, 3, 4, 5, 6, 7) g
GROUP BY 1, 2;

CREATE TEMP TABLE pick_product ON COMMIT DROP AS
SELECT btrim(g.productcode) AS productcode, max(g.raw_id) AS raw_id
FROM (SELECT r.productcode, max(r.raw_id) AS raw_id FROM raw_orders_csv r
      WHERE {{ refresh.in_delta('r') }} GROUP BY 1) g
GROUP BY 1;

-- an order's first row, and its number of lines (their sum is the delta's size)
CREATE TEMP TABLE pick_order ON COMMIT DROP AS
SELECT r.ordernumber, min(r.raw_id) AS raw_id, count(*) AS n_lines
FROM raw_orders_csv r WHERE {{ refresh.in_delta('r') }}
GROUP BY 1;

-- their sizes, for the joins that follow (without statistics the planner hashes all of raw_orders_csv)
ANALYZE pick_customer, pick_address, pick_product, pick_order;
