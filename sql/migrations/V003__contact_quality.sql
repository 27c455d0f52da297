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

    CREATE OR REPLACE FUNCTION audit_customers() RETURNS trigger AS $$
    DECLARE r customers;
    BEGIN
        IF TG_OP = 'UPDATE' AND NEW IS NOT DISTINCT FROM OLD THEN
            RETURN NEW;
        END IF;
        r := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        INSERT INTO customers_audit (customer_id, operation, changed_by, db_role, airflow_dag_id,
                                     airflow_run_id, airflow_task_id, company_name, contact_last_name,
                                     contact_first_name, phone, phone_valid, phone_e164,
                                     phone_invalid_reason)
        VALUES (r.customer_id, left(TG_OP, 1), audit_actor(), current_user,
                nullif(current_setting('vehicle_sales.dag_id', true), ''),
                nullif(current_setting('vehicle_sales.run_id', true), ''),
                nullif(current_setting('vehicle_sales.task_id', true), ''),
                r.company_name, r.contact_last_name, r.contact_first_name, r.phone, r.phone_valid,
                r.phone_e164, r.phone_invalid_reason);
        RETURN r;
    END;
    $$ LANGUAGE plpgsql;

    CREATE OR REPLACE FUNCTION audit_addresses() RETURNS trigger AS $$
    DECLARE r addresses;
    BEGIN
        IF TG_OP = 'UPDATE' AND NEW IS NOT DISTINCT FROM OLD THEN
            RETURN NEW;
        END IF;
        r := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        INSERT INTO addresses_audit (address_id, operation, changed_by, db_role, airflow_dag_id,
                                     airflow_run_id, airflow_task_id, st_addr, sub_addr, city, region,
                                     postal_code, country_code, score, geocode_status, match_addr,
                                     longitude, latitude)
        VALUES (r.address_id, left(TG_OP, 1), audit_actor(), current_user,
                nullif(current_setting('vehicle_sales.dag_id', true), ''),
                nullif(current_setting('vehicle_sales.run_id', true), ''),
                nullif(current_setting('vehicle_sales.task_id', true), ''),
                r.st_addr, r.sub_addr, r.city, r.region, r.postal_code, r.country_code, r.score,
                r.geocode_status, r.match_addr, r.longitude, r.latitude);
        RETURN r;
    END;
    $$ LANGUAGE plpgsql;

    INSERT INTO schema_version (version, description)
    VALUES (3, 'contact quality: phone validation columns, geocode state and cache');
END
$migration$;
