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
