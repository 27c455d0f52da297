-- load_reference_data: whether every ISO country and alias is in place already, with the same values:
-- then the upserts would change nothing, and are skipped. The rows are cast to the tables' row types,
-- so that they compare as the upserts compare them, in the columns' own types. Rows added by hand
-- are left alone either way.
-- Parameters: the rows, column by column (%(alpha3)s, %(alpha2)s, %(name)s; %(alias)s, %(alias_alpha3)s).
WITH countries AS (
    SELECT ((r.alpha3, r.alpha2, r.name)::iso_country_codes).*
    FROM unnest(%(alpha3)s::text[], %(alpha2)s::text[], %(name)s::text[]) AS r (alpha3, alpha2, name)
), aliases AS (
    SELECT ((r.alias, r.alpha3)::iso_country_aliases).*
    FROM unnest(%(alias)s::text[], %(alias_alpha3)s::text[]) AS r (alias, alpha3)
)
SELECT (SELECT count(*) FROM countries w JOIN iso_country_codes c USING (alpha3)
        WHERE (c.alpha2, c.name) IS NOT DISTINCT FROM (w.alpha2, w.name)) = (SELECT count(*) FROM countries)
   AND (SELECT count(*) FROM aliases w JOIN iso_country_aliases a USING (alias)
        WHERE a.alpha3 IS NOT DISTINCT FROM w.alpha3) = (SELECT count(*) FROM aliases)
