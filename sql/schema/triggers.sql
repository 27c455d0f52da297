-- The trigger functions and triggers of the warehouse, in their current form: the only place they
-- are defined. create_schema.sql runs this file after the migrations whenever its text has changed
-- (its md5 is kept in schema_definitions), so an up-to-date database is left alone and a change
-- here reaches every database on its next run. Every statement is idempotent (CREATE OR REPLACE).
--
-- Attribution: audit rows say which database role AND which Airflow dag/run/task made the change
-- (tasks set vehicle_sales.dag_id / run_id / task_id on their session, see common/db.py), and a
-- no-op UPDATE writes neither a row version nor an audit row.

-- who made a change: 'role (dag/run/task)' when a task set the attribution, else the role
CREATE OR REPLACE FUNCTION audit_actor() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT current_user::text || coalesce(
        ' (' || nullif(current_setting('vehicle_sales.dag_id', true), '') || '/'
             || coalesce(current_setting('vehicle_sales.run_id', true), '') || '/'
             || coalesce(current_setting('vehicle_sales.task_id', true), '') || ')', '')
$$;

-- updated_at moves only when a row really changes
CREATE OR REPLACE FUNCTION touch_updated_at() RETURNS trigger AS $$
BEGIN
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

-- One audit row per inserted (I), really updated (U) or deleted (D) row, written once per
-- statement from its transition table: a set-based INSERT (a bulk refresh of 100,000 customers
-- costs one statement, not 100,000 trigger calls). A no-op UPDATE never reaches them: it is
-- suppressed before (a_suppress_noop_update). write_audit(key column, audited columns) serves
-- the audited tables; their audit table is <table>_audit. A statement that changed no row (an upsert
-- whose rows were all in place) returns at once: its audit INSERT would be planned, and its audit
-- table opened, for nothing (about 2 ms of a small refresh in a new session).
CREATE OR REPLACE FUNCTION write_audit() RETURNS trigger AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM changed_rows) THEN
        RETURN NULL;
    END IF;
    -- who made the change: the same for every row of the statement, worked out once (not per row)
    EXECUTE format(
        $sql$INSERT INTO %I (%I, operation, changed_by, db_role, airflow_dag_id, airflow_run_id,
                             airflow_task_id, %s)
             SELECT %I, %L, $1, $2, $3, $4, $5, %s
             FROM changed_rows$sql$,
        TG_TABLE_NAME || '_audit', TG_ARGV[0], TG_ARGV[1], TG_ARGV[0], left(TG_OP, 1), TG_ARGV[1])
    USING audit_actor(), current_user::text,
          nullif(current_setting('vehicle_sales.dag_id', true), ''),
          nullif(current_setting('vehicle_sales.run_id', true), ''),
          nullif(current_setting('vehicle_sales.task_id', true), '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- the row-level audit of earlier versions, replaced by the statement-level triggers below
DROP TRIGGER IF EXISTS trg_customers_audit ON customers;
DROP TRIGGER IF EXISTS trg_addresses_audit ON addresses;
DROP TRIGGER IF EXISTS trg_customer_segments_audit ON customer_segments;
DROP FUNCTION IF EXISTS audit_customers();
DROP FUNCTION IF EXISTS audit_addresses();
DROP FUNCTION IF EXISTS audit_customer_segments();

-- triggers: a no-op UPDATE (same values) is dropped before any other trigger sees it
CREATE OR REPLACE TRIGGER a_suppress_noop_update BEFORE UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
CREATE OR REPLACE TRIGGER a_suppress_noop_update BEFORE UPDATE ON addresses
    FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
CREATE OR REPLACE TRIGGER a_suppress_noop_update BEFORE UPDATE ON customer_segments
    FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();

CREATE OR REPLACE TRIGGER trg_cust_touch_updated
    BEFORE UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE OR REPLACE TRIGGER trg_addr_touch_updated
    BEFORE UPDATE ON addresses FOR EACH ROW EXECUTE FUNCTION touch_updated_at();


-- the audit, per statement
CREATE OR REPLACE TRIGGER trg_customers_audit_ins AFTER INSERT ON customers
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION write_audit('customer_id', 'company_name, contact_last_name, contact_first_name, phone, phone_valid, phone_e164, phone_invalid_reason');
CREATE OR REPLACE TRIGGER trg_customers_audit_upd AFTER UPDATE ON customers
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION write_audit('customer_id', 'company_name, contact_last_name, contact_first_name, phone, phone_valid, phone_e164, phone_invalid_reason');
CREATE OR REPLACE TRIGGER trg_customers_audit_del AFTER DELETE ON customers
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION write_audit('customer_id', 'company_name, contact_last_name, contact_first_name, phone, phone_valid, phone_e164, phone_invalid_reason');
CREATE OR REPLACE TRIGGER trg_addresses_audit_ins AFTER INSERT ON addresses
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION write_audit('address_id', 'st_addr, sub_addr, city, region, postal_code, country_code, score, geocode_status, match_addr, longitude, latitude');
CREATE OR REPLACE TRIGGER trg_addresses_audit_upd AFTER UPDATE ON addresses
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION write_audit('address_id', 'st_addr, sub_addr, city, region, postal_code, country_code, score, geocode_status, match_addr, longitude, latitude');
CREATE OR REPLACE TRIGGER trg_addresses_audit_del AFTER DELETE ON addresses
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION write_audit('address_id', 'st_addr, sub_addr, city, region, postal_code, country_code, score, geocode_status, match_addr, longitude, latitude');
CREATE OR REPLACE TRIGGER trg_customer_segments_audit_ins AFTER INSERT ON customer_segments
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION write_audit('customer_id', 'segment_id, run_id, recency_days, frequency, monetary_amt');
CREATE OR REPLACE TRIGGER trg_customer_segments_audit_upd AFTER UPDATE ON customer_segments
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION write_audit('customer_id', 'segment_id, run_id, recency_days, frequency, monetary_amt');
CREATE OR REPLACE TRIGGER trg_customer_segments_audit_del AFTER DELETE ON customer_segments
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION write_audit('customer_id', 'segment_id, run_id, recency_days, frequency, monetary_amt');

-- orders: a later export correcting an order (updates), or a delete; not every new order
CREATE OR REPLACE TRIGGER a_suppress_noop_update BEFORE UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
CREATE OR REPLACE TRIGGER trg_orders_audit_upd AFTER UPDATE ON orders
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION write_audit('order_no', 'customer_id, ship_addr_id, order_date, status, deal_size');
CREATE OR REPLACE TRIGGER trg_orders_audit_del AFTER DELETE ON orders
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION write_audit('order_no', 'customer_id, ship_addr_id, order_date, status, deal_size');

-- reference data: any change to the ISO countries or aliases (by hand, or by load_reference_data
-- itself, which records its fingerprint after its upserts) forgets what was last found in place
CREATE OR REPLACE FUNCTION forget_reference_state() RETURNS trigger AS $$
BEGIN
    DELETE FROM reference_state;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE TRIGGER trg_iso_country_codes_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON iso_country_codes
    FOR EACH STATEMENT EXECUTE FUNCTION forget_reference_state();
CREATE OR REPLACE TRIGGER trg_iso_country_aliases_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON iso_country_aliases
    FOR EACH STATEMENT EXECUTE FUNCTION forget_reference_state();
