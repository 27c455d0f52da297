-- refresh_core, order lines: one per (order, line) of the delta; a key already there is kept
-- (NOT EXISTS rather than ON CONFLICT: on the bulk path the key is rebuilt afterwards). Counted by
-- the statement's row count: RETURNING would hold a row per line (a million) only to count them.
DO $order_lines$
DECLARE
    n_inserted bigint;
BEGIN
    INSERT INTO order_lines (order_no, line_no, product_code, quantity, price_each, sales)
    SELECT r.ordernumber, r.orderlinenumber, btrim(r.productcode), r.quantityordered, r.priceeach,
           coalesce(r.sales, round(r.quantityordered * r.priceeach, 2))
    FROM raw_orders_csv r
    WHERE {{ refresh.in_delta('r') }}
      AND NOT EXISTS (SELECT 1 FROM order_lines ol
                      WHERE ol.order_no = r.ordernumber AND ol.line_no = r.orderlinenumber);
    GET DIAGNOSTICS n_inserted = ROW_COUNT;
    {{ refresh.count(['order_lines'], 'SELECT n_inserted, 0') }};
END
$order_lines$;
