-- load_reference_data: whether every ISO country and alias is in place already, with the same values
-- (compared as the columns' types compare them, as the upserts do): then the upserts would change
-- nothing, and are skipped. Rows added by hand are left alone either way.
-- Parameters: the rows, column by column (%(alpha3)s, %(alpha2)s, %(name)s; %(alias)s, %(alias_alpha3)s).
SELECT (SELECT count(*)
        FROM unnest(%(alpha3)s::text[], %(alpha2)s::text[], %(name)s::text[]) AS r (alpha3, alpha2, name)
        JOIN iso_country_codes c ON c.alpha3 = r.alpha3::char(3)
        WHERE (c.alpha2, c.name) IS NOT DISTINCT FROM (r.alpha2::char(2), r.name::varchar(50)))
       = cardinality(%(alpha3)s::text[])
   AND (SELECT count(*)
        FROM unnest(%(alias)s::text[], %(alias_alpha3)s::text[]) AS r (alias, alpha3)
        JOIN iso_country_aliases a ON a.alias = r.alias
        WHERE a.alpha3 IS NOT DISTINCT FROM r.alpha3::char(3))
       = cardinality(%(alias)s::text[])
