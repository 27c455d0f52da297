-- refresh_core, customers: a customer is its name's identity (identity_text); its contact and phone
-- come from its latest lines where they are not blank, and a blank in a newer line never erases a
-- known value (coalesce with the stored one); new customers get their ids in the order of their rows
WITH latest AS (
    SELECT p.customername, nullif(btrim(rl.contactlastname), '') AS contactlastname,
           nullif(btrim(rf.contactfirstname), '') AS contactfirstname, nullif(btrim(rp.phone), '') AS phone
    FROM pick_customer p
    LEFT JOIN raw_orders_csv rl ON rl.raw_id = p.lastname_raw_id
    LEFT JOIN raw_orders_csv rf ON rf.raw_id = p.firstname_raw_id
    LEFT JOIN raw_orders_csv rp ON rp.raw_id = p.phone_raw_id
    ORDER BY p.raw_id  -- ids in the order the rows arrived
), upserted AS (
    INSERT INTO customers AS c (company_name, contact_last_name, contact_first_name, phone)
    SELECT customername, contactlastname, contactfirstname, phone FROM latest
    ON CONFLICT (company_name) DO UPDATE
        SET contact_last_name = coalesce(EXCLUDED.contact_last_name, c.contact_last_name),
            contact_first_name = coalesce(EXCLUDED.contact_first_name, c.contact_first_name),
            phone = coalesce(EXCLUDED.phone, c.phone)
        WHERE (c.contact_last_name, c.contact_first_name, c.phone)
              IS DISTINCT FROM (coalesce(EXCLUDED.contact_last_name, c.contact_last_name),
                                coalesce(EXCLUDED.contact_first_name, c.contact_first_name),
                                coalesce(EXCLUDED.phone, c.phone))
    RETURNING (xmax = 0) AS inserted
)
INSERT INTO refresh_stats
SELECT 'customers', count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted;
