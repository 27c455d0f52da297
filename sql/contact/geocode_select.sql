-- geocode_addresses: every address with its geocoding state; Python decides which need work
-- (pending, failed below the attempt limit, or text no longer matching its geocode_key).
SELECT address_id, st_addr, sub_addr, city, region, postal_code, country_code, geocode_status,
       geocode_key, geocode_attempts
FROM addresses
ORDER BY address_id
