-- load_reference_data: whether every ISO country and alias is in place already, with the same values:
-- then the upserts would change nothing, and are skipped. The rows are cast to the tables' row types,
-- so that they compare as the upserts compare them, in the columns' own types. Rows added by hand
-- are left alone either way.
-- Parameters: the rows as two texts, %(countries)s (alpha3, alpha2, name) and %(aliases)s (alias,
-- alpha3): rows separated by the ASCII record separator (0x1E), fields by the unit separator (0x1F),
-- characters no value holds (reference.py checks). One text is read in a fraction of the time that
-- arrays of a thousand texts take.
WITH countries AS (
    SELECT ((f[1], f[2], f[3])::iso_country_codes).*
    FROM string_to_table(%(countries)s, E'\x1e') AS r (line), string_to_array(r.line, E'\x1f') AS f
), aliases AS (
    SELECT ((f[1], f[2])::iso_country_aliases).*
    FROM string_to_table(%(aliases)s, E'\x1e') AS r (line), string_to_array(r.line, E'\x1f') AS f
)
SELECT (SELECT count(*) FROM countries w JOIN iso_country_codes c USING (alpha3)
        WHERE (c.alpha2, c.name) IS NOT DISTINCT FROM (w.alpha2, w.name)) = (SELECT count(*) FROM countries)
   AND (SELECT count(*) FROM aliases w JOIN iso_country_aliases a USING (alias)
        WHERE a.alpha3 IS NOT DISTINCT FROM w.alpha3) = (SELECT count(*) FROM aliases)
