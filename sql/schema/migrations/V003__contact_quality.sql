-- V003: phone validation and geocoding state.
--  * customers keep the raw phone; validation adds the E.164 form, the reason for an invalid number
--    and what it was validated against (phone|country), so a changed phone or country is revalidated
--    whatever the watermark says;
--  * every address carries a geocode state: pending, matched, low_score, unmatched or failed (with
--    reason and attempt count); a cache keyed by normalised address text means an address is never
--    paid for twice.
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM schema_version WHERE version = 3) THEN
        RETURN;
    END IF;

    ALTER TABLE customers
        ADD COLUMN IF NOT EXISTS phone_e164 text,
        ADD COLUMN IF NOT EXISTS phone_international text,
        ADD COLUMN IF NOT EXISTS phone_invalid_reason text,
        ADD COLUMN IF NOT EXISTS phone_checked_input text,
        ADD COLUMN IF NOT EXISTS phone_validated_at timestamptz;
    ALTER TABLE customers_audit
        ADD COLUMN IF NOT EXISTS phone_e164 text,
        ADD COLUMN IF NOT EXISTS phone_invalid_reason text;

    ALTER TABLE addresses
        ADD COLUMN IF NOT EXISTS geocode_status text NOT NULL DEFAULT 'pending',
        ADD COLUMN IF NOT EXISTS geocode_key text,
        ADD COLUMN IF NOT EXISTS match_addr text,
        ADD COLUMN IF NOT EXISTS longitude double precision,
        ADD COLUMN IF NOT EXISTS latitude double precision,
        ADD COLUMN IF NOT EXISTS geocode_attempts int NOT NULL DEFAULT 0,
        ADD COLUMN IF NOT EXISTS geocode_error text,
        ADD COLUMN IF NOT EXISTS geocode_candidate jsonb,
        ADD COLUMN IF NOT EXISTS geocoded_at timestamptz;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'chk_geocode_status') THEN
        ALTER TABLE addresses ADD CONSTRAINT chk_geocode_status
            CHECK (geocode_status IN ('pending', 'matched', 'low_score', 'unmatched', 'failed'));
    END IF;
    CREATE INDEX IF NOT EXISTS ix_addresses_geocode_pending ON addresses (address_id)
        WHERE geocode_status IN ('pending', 'failed');
    ALTER TABLE addresses_audit
        ADD COLUMN IF NOT EXISTS geocode_status text,
        ADD COLUMN IF NOT EXISTS match_addr text,
        ADD COLUMN IF NOT EXISTS longitude double precision,
        ADD COLUMN IF NOT EXISTS latitude double precision;

    CREATE TABLE IF NOT EXISTS geocode_cache (
        geocode_key     text PRIMARY KEY,     -- normalised address text sent to the service
        status          text NOT NULL,        -- M / T / U as returned
        score           numeric(5,2),
        match_addr      text,
        longitude       double precision,
        latitude        double precision,
        attributes      jsonb NOT NULL,       -- the stored outFields
        geocoded_at     timestamptz NOT NULL DEFAULT now()
    );

    -- the audit functions record the new columns: see ../triggers.sql

    INSERT INTO schema_version (version, description)
    VALUES (3, 'contact quality: phone validation columns, geocode state and cache');
END
$migration$;
