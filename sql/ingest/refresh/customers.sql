-- refresh_core, customers: a customer is its name's identity (identity_text); its contact and phone
-- come from its latest lines where they are not blank, and a blank in a newer line never erases a
-- known value (coalesce with the stored one); new customers get their ids in the order of their rows
WITH pick_customer AS (
    -- its name's and addresses' raw texts' picks (picks.sql), by identity, in the order of the rows
    -- looked up next: through the table, not at random
    SELECT customer AS customername, max(raw_id) AS raw_id, max(lastname_raw_id) AS lastname_raw_id,
           max(firstname_raw_id) AS firstname_raw_id, max(phone_raw_id) AS phone_raw_id
    FROM pick_grain
    GROUP BY 1
    ORDER BY lastname_raw_id
), latest AS (
    -- (the three are usually the customer's latest row: looked up once then)
    SELECT p.customername, nullif(btrim(rl.contactlastname), '') AS contactlastname,
           nullif(btrim(CASE WHEN p.firstname_raw_id = p.lastname_raw_id THEN rl.contactfirstname
                             ELSE (SELECT contactfirstname FROM raw_orders_csv WHERE raw_id = p.firstname_raw_id)
                        END), '') AS contactfirstname,
           nullif(btrim(CASE WHEN p.phone_raw_id = p.lastname_raw_id THEN rl.phone
                             ELSE (SELECT phone FROM raw_orders_csv WHERE raw_id = p.phone_raw_id)
                        END), '') AS phone
    FROM pick_customer p
    LEFT JOIN raw_orders_csv rl ON rl.raw_id = p.lastname_raw_id
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
{{ refresh.count(['customers'], 'SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted') }};
