-- refresh_core, order lines: one per (order, line); a key already loaded is kept
WITH inserted AS (
    INSERT INTO order_lines (order_no, line_no, product_code, quantity, price_each, sales)
    SELECT ordernumber, orderlinenumber, productcode, quantityordered, priceeach, sales FROM delta
    ON CONFLICT (order_no, line_no) DO NOTHING
    RETURNING 1
)
INSERT INTO refresh_stats SELECT 'order_lines', count(*), 0 FROM inserted;
