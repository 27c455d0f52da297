-- load_reference_data: distinct country texts in the raw data that resolve to no ISO country
-- (their addresses get country_code NULL).
SELECT count(DISTINCT upper(trim(r.country)))
FROM raw_orders_csv r
WHERE r.country IS NOT NULL AND trim(r.country) <> ''
  AND resolve_country(r.country) IS NULL
