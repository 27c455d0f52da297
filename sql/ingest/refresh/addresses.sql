-- refresh_core, addresses: new arrival texts become new address rows; an unknown country leaves
-- country_code NULL (counted as unknown_country)
WITH pick_address AS (
    -- an address is its customer and its text's key; its first row carries its fields
    SELECT DISTINCT ON (customername, source_key) *
    FROM (SELECT g.customer AS customername, {{ refresh.source_key('g') }} AS source_key,
                 g.first_raw_id AS raw_id, g.addressline1, g.addressline2, g.city, g.state, g.postalcode, g.country
          FROM pick_grain g) a
    ORDER BY customername, source_key, raw_id
), src AS (
    SELECT c.customer_id, p.source_key, nullif(btrim(p.addressline1), '') AS addressline1,
           nullif(btrim(p.addressline2), '') AS addressline2, nullif(btrim(p.city), '') AS city,
           nullif(btrim(p.state), '') AS state, nullif(btrim(p.postalcode), '') AS postalcode, a.alpha3
    FROM pick_address p  -- (its first row's fields)
    JOIN customers c ON c.company_name = p.customername
    LEFT JOIN iso_country_aliases a ON a.alias = upper(nullif(btrim(p.country), ''))
    ORDER BY p.raw_id  -- ids in the order the rows arrived
), inserted AS (
    INSERT INTO addresses (customer_id, source_key, st_addr, sub_addr, city, region, postal_code, country_code)
    SELECT customer_id, source_key, addressline1, addressline2, city, state, postalcode, alpha3 FROM src
    ON CONFLICT ON CONSTRAINT uc_cust_address_source DO NOTHING
    RETURNING 1
)
-- (and the address texts of the delta whose country no ISO name, code or alias resolves: country_code NULL)
{{ refresh.count(['addresses', 'unknown_country'],
                 'SELECT (SELECT count(*) FROM inserted), 0, (SELECT count(*) FROM src WHERE alpha3 IS NULL), 0') }};
