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

-- one audit row per insert (I), real update (U) or delete (D)
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

CREATE OR REPLACE TRIGGER trg_customers_audit
    AFTER INSERT OR UPDATE OR DELETE ON customers FOR EACH ROW EXECUTE FUNCTION audit_customers();
CREATE OR REPLACE TRIGGER trg_addresses_audit
    AFTER INSERT OR UPDATE OR DELETE ON addresses FOR EACH ROW EXECUTE FUNCTION audit_addresses();
CREATE OR REPLACE TRIGGER trg_customer_segments_audit
    AFTER INSERT OR UPDATE OR DELETE ON customer_segments
    FOR EACH ROW EXECUTE FUNCTION audit_customer_segments();
