-- load_reference_data, once the rows are in place: record the fingerprint of their sources (see
-- V008); the next run with the same sources finds it and has nothing to check. Any later change to
-- iso_country_codes or iso_country_aliases deletes this row (triggers.sql).
INSERT INTO reference_state (fingerprint, countries, aliases)
VALUES (%(fingerprint)s, %(countries)s, %(aliases)s)
ON CONFLICT (singleton) DO UPDATE
    SET fingerprint = EXCLUDED.fingerprint, countries = EXCLUDED.countries, aliases = EXCLUDED.aliases,
        checked_at = now()
