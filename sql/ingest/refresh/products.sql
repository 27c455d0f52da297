-- refresh_core, products: the latest row of each product carries its line and MSRP
WITH latest AS (
    SELECT p.productcode, nullif(btrim(r.productline), '') AS productline, r.msrp
    FROM pick_product p
    JOIN raw_orders_csv r ON r.raw_id = p.raw_id
    ORDER BY p.raw_id  -- ids in the order the rows arrived
), upserted AS (
    INSERT INTO products AS p (product_code, product_line, msrp)
    SELECT productcode, productline, msrp FROM latest
    ON CONFLICT (product_code) DO UPDATE
        SET product_line = EXCLUDED.product_line, msrp = EXCLUDED.msrp
        WHERE (p.product_line, p.msrp) IS DISTINCT FROM (EXCLUDED.product_line, EXCLUDED.msrp)
    RETURNING (xmax = 0) AS inserted
)
INSERT INTO refresh_stats
SELECT 'products', count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted;
