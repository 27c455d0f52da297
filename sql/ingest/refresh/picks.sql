-- refresh_core, the representative raw row of each entity in the delta, picked by raw_id with a hash
-- aggregate (the delta is never sorted): a customer's latest rows with a contact and a phone carry
-- its current ones, a product's latest with a line and an MSRP carry those (a blank never erases a
-- value); an address text's first row and an order's first row carry theirs. What reads the delta
-- is kept here (filled under the planner hints for a large delta: the work tables of a small delta,
-- temporary tables of the same names for a large one, see `pick` in _macros.sql); what only regroups
-- them is a CTE of the one statement that reads it (customers.sql, addresses.sql, orders.sql).
{{ refresh.scan_whole_delta(true) }}

-- (each groups the raw texts first, as they stand, and normalises the few distinct ones after)
-- a customer's name and address texts as they stand, in one pass over the delta (a parallel hash
-- aggregate): their first and latest rows, and the latest where each contact field is not blank.
-- A customer is its name's identity (identity_text: Unicode form, invisible characters, spaces),
-- computed once per group here for customers.sql, addresses.sql and orders.sql
{% call refresh.pick('pick_grain', 'customername, addressline1, addressline2, city, state, postalcode, country, customer,'
                                   ' first_raw_id, raw_id, lastname_raw_id, firstname_raw_id, phone_raw_id') %}
SELECT r.customername, r.addressline1, r.addressline2, r.city, r.state, r.postalcode, r.country,
       identity_text(r.customername) AS customer,
       min(r.raw_id) AS first_raw_id, max(r.raw_id) AS raw_id,
       max(r.raw_id) FILTER (WHERE {{ refresh.nonblank('r.contactlastname') }}) AS lastname_raw_id,
       max(r.raw_id) FILTER (WHERE {{ refresh.nonblank('r.contactfirstname') }}) AS firstname_raw_id,
       max(r.raw_id) FILTER (WHERE {{ refresh.nonblank('r.phone') }}) AS phone_raw_id
FROM raw_orders_csv r WHERE {{ refresh.in_delta('r') }}
GROUP BY 1, 2, 3, 4, 5, 6, 7
{% endcall %}

-- a product is its trimmed code: the raw ids only (its code is its latest row's, read by products.sql)
{% call refresh.pick('pick_product', 'raw_id, line_raw_id, msrp_raw_id') %}
SELECT max(g.raw_id) AS raw_id, max(g.line_raw_id) AS line_raw_id, max(g.msrp_raw_id) AS msrp_raw_id
FROM (SELECT r.productcode, max(r.raw_id) AS raw_id,
             max(r.raw_id) FILTER (WHERE {{ refresh.nonblank('r.productline') }}) AS line_raw_id,
             max(r.raw_id) FILTER (WHERE r.msrp IS NOT NULL) AS msrp_raw_id
      FROM raw_orders_csv r WHERE {{ refresh.in_delta('r') }} GROUP BY 1) g
GROUP BY btrim(g.productcode)
{% endcall %}

-- an order's first row, and its number of lines (their sum is the delta's size)
{% call refresh.pick('pick_order', 'ordernumber, raw_id, n_lines') %}
SELECT r.ordernumber, min(r.raw_id) AS raw_id, count(*) AS n_lines
FROM raw_orders_csv r WHERE {{ refresh.in_delta('r') }}
GROUP BY 1
{% endcall %}

-- their sizes, for the joins that follow (without statistics the planner hashes all of raw_orders_csv;
-- a small sample tells them)
{{ bulk.coarse_analyze('pick_grain (customername, customer, country), pick_product (raw_id), pick_order (raw_id)', 'true') }}
