-- geocode_addresses: remember the service's answers (the first one per text wins, across runs).
INSERT INTO geocode_cache (geocode_key, status, score, match_addr, longitude, latitude, attributes)
SELECT DISTINCT ON (geocode_key) geocode_key, status, score, match_addr, lon, lat, attributes
FROM _geo_cache
ON CONFLICT (geocode_key) DO NOTHING
