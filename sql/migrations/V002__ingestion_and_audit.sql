-- V002: what the Airflow pipeline adds to the original design.
--  * file lineage (source_files) and a quarantine for rejected rows (raw_orders_rejects);
--  * raw rows remember their file and line;
--  * text columns that came from the export are widened to text: an over-long value must be
--    quarantined by validation with a reason, never crash the core refresh;
--  * addresses are identified by the text they arrived with (source_key), so geocoding may
--    standardise st_addr/postal_code without breaking the next refresh's match;
--  * audit rows say which database role AND which Airflow dag/run/task made the change
--    (tasks set vehicle_sales.dag_id / run_id / task_id on their session), and no-op updates
--    write neither a row version nor an audit row.
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM schema_version WHERE version = 2) THEN
        RETURN;
    END IF;

    CREATE TABLE IF NOT EXISTS source_files (
        file_id         bigserial PRIMARY KEY,
        source_uri      text NOT NULL,
        sha256          char(64) NOT NULL UNIQUE,
        size_bytes      bigint NOT NULL,
        row_count       int,            -- data rows (CSV records after the header)
        encoding        text,           -- chosen codec and why, e.g. 'cp1252 (detected)'
        downloaded_at   timestamptz NOT NULL DEFAULT now(),
        staged_at       timestamptz,
        rows_read       int,
        rows_loaded     int,
        rows_duplicate  int,
        rows_rejected   int,
        airflow_run_id  text
    );

    ALTER TABLE raw_orders_csv
        ADD COLUMN IF NOT EXISTS source_file_id bigint REFERENCES source_files (file_id),
        ADD COLUMN IF NOT EXISTS source_line int;

    CREATE TABLE IF NOT EXISTS raw_orders_rejects (
        reject_id           bigserial PRIMARY KEY,
        source_file_id      bigint REFERENCES source_files (file_id),
        source_line         int,
        raw_text            text NOT NULL,
        reason              text NOT NULL,
        ordernumber         text,
        orderlinenumber     text,
        -- for a conflicting duplicate: the version already loaded (or loaded earlier in the same file)
        conflicting_raw_id  bigint REFERENCES raw_orders_csv (raw_id),
        conflicting_text    text,
        rejected_at         timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX IF NOT EXISTS ix_rejects_file ON raw_orders_rejects (source_file_id);

    CREATE TABLE IF NOT EXISTS pipeline_events (
        event_id        bigserial PRIMARY KEY,
        step            text NOT NULL,
        details         jsonb NOT NULL,
        airflow_dag_id  text,
        airflow_run_id  text,
        airflow_task_id text,
        created_at      timestamptz NOT NULL DEFAULT now()
    );

    -- widen: values from the export are text of any length
    ALTER TABLE iso_country_codes ALTER COLUMN name TYPE text;
    ALTER TABLE customers ALTER COLUMN company_name TYPE text, ALTER COLUMN phone TYPE text;
    ALTER TABLE customers ADD COLUMN IF NOT EXISTS phone_valid boolean;
    ALTER TABLE products ALTER COLUMN product_line TYPE text;
    ALTER TABLE customers_audit ALTER COLUMN company_name TYPE text, ALTER COLUMN phone TYPE text,
        ALTER COLUMN changed_by TYPE text;
    ALTER TABLE customers_audit ADD COLUMN IF NOT EXISTS phone_valid boolean;
    ALTER TABLE addresses_audit ALTER COLUMN changed_by TYPE text;
    ALTER TABLE customer_segments_audit ALTER COLUMN changed_by TYPE text;
    ALTER TABLE addresses_audit ADD COLUMN IF NOT EXISTS score numeric(5,2);

    ALTER TABLE customers_audit
        ADD COLUMN IF NOT EXISTS db_role text, ADD COLUMN IF NOT EXISTS airflow_dag_id text,
        ADD COLUMN IF NOT EXISTS airflow_run_id text, ADD COLUMN IF NOT EXISTS airflow_task_id text;
    ALTER TABLE addresses_audit
        ADD COLUMN IF NOT EXISTS db_role text, ADD COLUMN IF NOT EXISTS airflow_dag_id text,
        ADD COLUMN IF NOT EXISTS airflow_run_id text, ADD COLUMN IF NOT EXISTS airflow_task_id text;
    ALTER TABLE customer_segments_audit
        ADD COLUMN IF NOT EXISTS db_role text, ADD COLUMN IF NOT EXISTS airflow_dag_id text,
        ADD COLUMN IF NOT EXISTS airflow_run_id text, ADD COLUMN IF NOT EXISTS airflow_task_id text;

    -- addresses: identity by arrival text; NULL postal codes must not defeat uniqueness
    ALTER TABLE addresses ADD COLUMN IF NOT EXISTS source_key text;
    UPDATE addresses
       SET source_key = concat_ws('|', st_addr, sub_addr, city, region, postal_code, country_code)
     WHERE source_key IS NULL;
    ALTER TABLE addresses DROP CONSTRAINT IF EXISTS uc_cust_address;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'uc_cust_address_source') THEN
        ALTER TABLE addresses ADD CONSTRAINT uc_cust_address_source
            UNIQUE NULLS NOT DISTINCT (customer_id, source_key);
    END IF;
    CREATE INDEX IF NOT EXISTS ix_orders_customer ON orders (customer_id);
    CREATE INDEX IF NOT EXISTS ix_orders_date ON orders (order_date);
    CREATE INDEX IF NOT EXISTS ix_addresses_customer ON addresses (customer_id);

    INSERT INTO etl_watermark (target, last_id)
    VALUES ('core_refresh', 0), ('addr_geocode', 0), ('phone_val', 0)
    ON CONFLICT (target) DO NOTHING;

    -- country text as exported -> ISO alpha-3 (aliases hold upper-cased names and codes)
    CREATE OR REPLACE FUNCTION resolve_country(country text) RETURNS char(3) LANGUAGE sql STABLE AS $$
        SELECT coalesce(
            (SELECT a.alpha3 FROM iso_country_aliases a WHERE a.alias = upper(btrim(country))),
            (SELECT c.alpha3 FROM iso_country_codes c WHERE upper(c.name) = upper(btrim(country))))
    $$;

    -- attribution -------------------------------------------------------------------------
    CREATE OR REPLACE FUNCTION audit_actor() RETURNS text LANGUAGE sql STABLE AS $$
        SELECT current_user::text || coalesce(
            ' (' || nullif(current_setting('vehicle_sales.dag_id', true), '') || '/'
                 || coalesce(current_setting('vehicle_sales.run_id', true), '') || '/'
                 || coalesce(current_setting('vehicle_sales.task_id', true), '') || ')', '')
    $$;

    CREATE OR REPLACE FUNCTION touch_updated_at() RETURNS trigger AS $$
    BEGIN
        IF NEW IS DISTINCT FROM OLD THEN
            NEW.updated_at := now();
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql;

    -- a no-op UPDATE (same values) is dropped before any other trigger sees it
    CREATE OR REPLACE TRIGGER a_suppress_noop_update BEFORE UPDATE ON customers
        FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
    CREATE OR REPLACE TRIGGER a_suppress_noop_update BEFORE UPDATE ON addresses
        FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
    CREATE OR REPLACE TRIGGER a_suppress_noop_update BEFORE UPDATE ON customer_segments
        FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();

    CREATE OR REPLACE FUNCTION audit_customers() RETURNS trigger AS $$
    DECLARE r customers;
    BEGIN
        IF TG_OP = 'UPDATE' AND NEW IS NOT DISTINCT FROM OLD THEN
            RETURN NEW;
        END IF;
        r := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        INSERT INTO customers_audit (customer_id, operation, changed_by, db_role, airflow_dag_id,
                                     airflow_run_id, airflow_task_id, company_name, contact_last_name,
                                     contact_first_name, phone, phone_valid)
        VALUES (r.customer_id, left(TG_OP, 1), audit_actor(), current_user,
                nullif(current_setting('vehicle_sales.dag_id', true), ''),
                nullif(current_setting('vehicle_sales.run_id', true), ''),
                nullif(current_setting('vehicle_sales.task_id', true), ''),
                r.company_name, r.contact_last_name, r.contact_first_name, r.phone, r.phone_valid);
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
                                     postal_code, country_code, score)
        VALUES (r.address_id, left(TG_OP, 1), audit_actor(), current_user,
                nullif(current_setting('vehicle_sales.dag_id', true), ''),
                nullif(current_setting('vehicle_sales.run_id', true), ''),
                nullif(current_setting('vehicle_sales.task_id', true), ''),
                r.st_addr, r.sub_addr, r.city, r.region, r.postal_code, r.country_code, r.score);
        RETURN r;
    END;
    $$ LANGUAGE plpgsql;

    CREATE OR REPLACE FUNCTION audit_customer_segments() RETURNS trigger AS $$
    DECLARE r customer_segments;
    BEGIN
        IF TG_OP = 'UPDATE' AND NEW IS NOT DISTINCT FROM OLD THEN
            RETURN NEW;
        END IF;
        r := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        INSERT INTO customer_segments_audit (customer_id, operation, changed_by, db_role, airflow_dag_id,
                                             airflow_run_id, airflow_task_id, segment_id, run_id,
                                             recency_days, frequency, monetary_amt)
        VALUES (r.customer_id, left(TG_OP, 1), audit_actor(), current_user,
                nullif(current_setting('vehicle_sales.dag_id', true), ''),
                nullif(current_setting('vehicle_sales.run_id', true), ''),
                nullif(current_setting('vehicle_sales.task_id', true), ''),
                r.segment_id, r.run_id, r.recency_days, r.frequency, r.monetary_amt);
        RETURN r;
    END;
    $$ LANGUAGE plpgsql;

    INSERT INTO schema_version (version, description)
    VALUES (2, 'pipeline: source files, rejects, widened text, address source_key, audit attribution');
END
$migration$;
