-- V007: a customer's monetary value is a sum of order lines, each within order_lines.sales
-- (numeric(12,2)); the sum has no such bound. numeric(14,2) overflowed for a customer with more than
-- about a hundred maximal lines and made compute_rfm fail on every later run. The sums get room for
-- any realistic history (numeric(30,2): same scale, a precision increase needs no table rewrite).
-- The insight views depend on these columns: they are dropped here and re-created by views.sql,
-- which create_schema applies after the migrations (its checksum is forgotten to force that).
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM schema_version WHERE version = 7) THEN
        RETURN;
    END IF;

    DROP VIEW IF EXISTS segment_trend, customer_segment_transitions, customer_segment_transition_detail,
        rfm_run_previous, rfm_loaded_run CASCADE;
    DROP FUNCTION IF EXISTS segment_transitions_between(bigint, bigint) CASCADE;
    DELETE FROM schema_definitions WHERE name = 'views';

    ALTER TABLE rfm_snapshot ALTER COLUMN monetary_amt TYPE numeric(30,2);
    ALTER TABLE customer_segment_history ALTER COLUMN monetary_amt TYPE numeric(30,2);
    ALTER TABLE customer_segments ALTER COLUMN monetary_amt TYPE numeric(30,2);
    ALTER TABLE customer_segments_audit ALTER COLUMN monetary_amt TYPE numeric(30,2);
    ALTER TABLE rfm_run_segment_summary ALTER COLUMN revenue TYPE numeric(30,2);

    INSERT INTO schema_version (version, description)
    VALUES (7, 'monetary sums without an overflow bound');
END
$migration$;
