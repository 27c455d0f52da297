-- V008: what load_reference_data last found in place. The ISO countries and aliases it loads are a
-- function of their sources (pycountry's data and the loader's code): their fingerprint is recorded
-- here once the rows are known to be in place, and a run whose sources have the same fingerprint has
-- nothing to check or write. Any change to either table (insert, update, delete, truncate, by hand or
-- by the loader) deletes the record first (triggers.sql): the next run checks the rows again.
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM schema_version WHERE version = 8) THEN
        RETURN;
    END IF;

    CREATE TABLE IF NOT EXISTS reference_state (
        singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        fingerprint text NOT NULL,
        countries   integer NOT NULL,
        aliases     integer NOT NULL,
        checked_at  timestamptz NOT NULL DEFAULT now()
    );

    INSERT INTO schema_version (version, description)
    VALUES (8, 'reference data: the fingerprint of the sources last found in place');
END
$migration$;
