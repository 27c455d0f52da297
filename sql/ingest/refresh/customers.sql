-- refresh_core, customers: the latest row of each customer carries its current contact and phone;
-- new customers get their ids in the order of those rows
WITH latest AS (
    SELECT p.customername, nullif(btrim(r.contactlastname), '') AS contactlastname,
           nullif(btrim(r.contactfirstname), '') AS contactfirstname, nullif(btrim(r.phone), '') AS phone
    FROM pick_customer p
    JOIN raw_orders_csv r ON r.raw_id = p.raw_id
    ORDER BY p.raw_id  -- ids in the order the rows arrived
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
