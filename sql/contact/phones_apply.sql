-- validate_phones: write one batch back in one statement. The raw phone is never modified; a
-- customer whose phone changed since it was read is left alone (the next run revalidates it).
-- Unchanged values make no row version and no audit row (V002's suppress-redundant trigger), and
-- the audit trigger records the session's vehicle_sales.dag_id/run_id/task_id.
WITH updated AS (
    UPDATE customers c
       SET phone_valid = t.valid,
           phone_e164 = t.e164,
           phone_international = t.international,
           phone_invalid_reason = t.reason,
           phone_checked_input = t.checked_input,
           phone_validated_at = now()
      FROM tmp_phone_validation t
     WHERE c.customer_id = t.customer_id
       AND c.phone IS NOT DISTINCT FROM t.phone
    RETURNING c.phone_valid, c.phone_invalid_reason
)
SELECT phone_valid, phone_invalid_reason, count(*)::int FROM updated GROUP BY 1, 2
