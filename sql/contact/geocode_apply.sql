-- geocode_addresses: apply one batch of outcomes. A failed attempt keeps what the address had
-- (but counts the attempt and its reason); a row whose text changed since it was read is left
-- alone (the next run sees the new text). The audit trigger records every change with the run's
-- attribution. Returns the outcome of each address updated.
UPDATE addresses a SET
    st_addr = u.n_st, sub_addr = u.n_sub, city = u.n_city, region = u.n_region,
    postal_code = u.n_postal, country_code = u.n_country,
    geocode_status = u.outcome,
    geocode_key = u.geocode_key,
    geocode_attempts = CASE WHEN a.geocode_key IS DISTINCT FROM u.geocode_key THEN 0
                            ELSE a.geocode_attempts END + u.sent::int,
    score = CASE WHEN u.outcome = 'failed' THEN a.score ELSE u.score END,
    match_addr = CASE WHEN u.outcome = 'failed' THEN a.match_addr ELSE u.match_addr END,
    longitude = CASE WHEN u.outcome = 'failed' THEN a.longitude ELSE u.lon END,
    latitude = CASE WHEN u.outcome = 'failed' THEN a.latitude ELSE u.lat END,
    geocode_candidate = CASE WHEN u.outcome = 'failed' THEN a.geocode_candidate ELSE u.candidate END,
    geocode_error = u.error,
    geocoded_at = CASE WHEN u.outcome = 'failed' THEN a.geocoded_at ELSE now() END
FROM _geo_upd u
WHERE a.address_id = u.address_id
  AND (a.st_addr, a.sub_addr, a.city, a.region, a.postal_code, a.country_code)
      IS NOT DISTINCT FROM (u.o_st, u.o_sub, u.o_city, u.o_region, u.o_postal, u.o_country)
RETURNING u.outcome
