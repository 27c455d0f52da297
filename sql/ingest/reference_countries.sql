-- load_reference_data: upsert the ISO countries; returns how many rows were inserted or changed.
WITH changed AS (
    INSERT INTO iso_country_codes AS c (alpha3, alpha2, name)
    SELECT alpha3, alpha2, name FROM tmp_iso
    ON CONFLICT (alpha3) DO UPDATE SET alpha2 = EXCLUDED.alpha2, name = EXCLUDED.name
        WHERE (c.alpha2, c.name) IS DISTINCT FROM (EXCLUDED.alpha2, EXCLUDED.name)
    RETURNING 1
)
SELECT count(*) FROM changed
