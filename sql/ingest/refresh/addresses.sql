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
