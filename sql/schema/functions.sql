-- The warehouse's own SQL functions, in their current form: the only place they are defined.
-- create_schema.sql re-applies this file (before triggers.sql and views.sql) whenever its text
-- changed (md5 in schema_definitions). Every statement is idempotent (CREATE OR REPLACE).

-- The identity of a text (a customer's name): Unicode NFKC (one form for 'ö' and 'o' + combining
-- diaeresis, a plain space for the no-break spaces), format characters dropped (zero-width
-- space, zero-width (non-)joiner, word joiner, soft hyphen, BOM), white space collapsed to one
-- space, trimmed. Two spellings that look alike are one customer; raw_orders_csv keeps the text as
-- it came. NULL and '' give NULL. Most names are printable ASCII words with single spaces between
-- them, which all of this leaves as they are: they are returned at once (a fifth of the cost).
-- Not declared STRICT: PostgreSQL inlines the body into the query that calls it only when it is not
-- (a STRICT SQL function whose body it cannot prove strict runs as a call, about 2 us a name: a
-- third of the refresh's name picks); NULL gives NULL all the same (the CASE's ELSE branch).
CREATE OR REPLACE FUNCTION identity_text(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN t ~ '^[!-~]+( [!-~]+)*$' THEN t ELSE nullif(btrim(regexp_replace(
        regexp_replace(normalize(t, NFKC), '[\u00AD\u200B-\u200F\u2060-\u2064\uFEFF]', '', 'g'),
        '[[:space:]]+', ' ', 'g')), '') END
$$;
