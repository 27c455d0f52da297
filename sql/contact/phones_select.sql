-- validate_phones: the next batch of customers whose phone needs (re)validation, in customer_id
-- order past the "after" keyset parameter. A customer is a candidate when it was never validated or when
-- the phone|country it was validated against (phone_checked_input) is not its current one; the
-- etl_watermark 'phone_val' plays no part, so an interrupted run leaves its rest to the next run.
-- The country is the ISO alpha-2 of the customer's first address (lowest address_id) with a known
-- country; NULL when no address has one.
SELECT c.customer_id,
       c.phone,
       cc.alpha2::text AS region,
       coalesce(c.phone, '') || '|' || coalesce(cc.alpha2::text, '') AS checked_input
FROM customers c
LEFT JOIN LATERAL (
    SELECT i.alpha2
    FROM addresses a
    JOIN iso_country_codes i ON i.alpha3 = a.country_code
    WHERE a.customer_id = c.customer_id
    ORDER BY a.address_id
    LIMIT 1
) cc ON true
WHERE c.customer_id > %(after)s
  AND (c.phone_validated_at IS NULL
       OR c.phone_checked_input IS DISTINCT FROM coalesce(c.phone, '') || '|' || coalesce(cc.alpha2::text, ''))
ORDER BY c.customer_id
LIMIT %(limit)s
