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

    -- attribution: audit_actor(), the audit functions and the no-op suppression live in
    -- ../triggers.sql (applied after the migrations)

    INSERT INTO schema_version (version, description)
    VALUES (2, 'pipeline: source files, rejects, widened text, address source_key, audit attribution');
END
$migration$;
