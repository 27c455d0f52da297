-- geocode_addresses: one write's working tables (kept for the session, emptied at each commit).
-- _geo_upd: per address, the text it was read with (o_*), the outcome and the new fields (n_*);
-- _geo_cache: the service's answers, keyed by normalised text.
CREATE TEMP TABLE IF NOT EXISTS _geo_upd (
    address_id bigint, o_st text, o_sub text, o_city text, o_region text, o_postal text, o_country char(3),
    outcome text, geocode_key text, sent boolean, score numeric(5,2), match_addr text,
    lon double precision, lat double precision, n_st text, n_sub text, n_city text, n_region text,
    n_postal text, n_country char(3), candidate jsonb, error text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS _geo_cache (
    geocode_key text, status text, score numeric(5,2), match_addr text, lon double precision,
    lat double precision, attributes jsonb
) ON COMMIT DELETE ROWS;
