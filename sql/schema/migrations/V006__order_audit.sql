-- V006: orders are audited when they change. A later export may correct an order (its customer,
-- date or status): refresh_core applies it, reports it in its counts, and the audit keeps who
-- changed what (updates and deletes; a new order is in raw_orders_csv already).
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM schema_version WHERE version = 6) THEN
        RETURN;
    END IF;

    CREATE TABLE IF NOT EXISTS orders_audit (
        audit_id        bigserial PRIMARY KEY,
        order_no        int,
        changed_at      timestamptz DEFAULT now(),
        changed_by      text NOT NULL,
        operation       char(1),
        db_role         text,
        airflow_dag_id  text,
        airflow_run_id  text,
        airflow_task_id text,
        customer_id     bigint,
        ship_addr_id    bigint,
        order_date      date,
        status          text,
        deal_size       text
    );
    CREATE INDEX IF NOT EXISTS ix_orders_audit_order ON orders_audit (order_no);

    INSERT INTO schema_version (version, description)
    VALUES (6, 'orders audited on update and delete');
END
$migration$;
