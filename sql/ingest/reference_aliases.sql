-- load_reference_data: upsert the country aliases; returns how many rows were inserted or changed.
WITH changed AS (
    INSERT INTO iso_country_aliases AS a (alias, alpha3)
    SELECT alias, alpha3 FROM tmp_alias
    ON CONFLICT (alias) DO UPDATE SET alpha3 = EXCLUDED.alpha3
        WHERE a.alpha3 IS DISTINCT FROM EXCLUDED.alpha3
    RETURNING 1
)
SELECT count(*) FROM changed
