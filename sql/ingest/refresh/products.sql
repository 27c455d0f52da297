-- refresh_core, products: the latest row of each product carries its line and MSRP
WITH latest AS (
    SELECT d.productcode, d.productline, d.msrp
    FROM delta d
    JOIN (SELECT max(raw_id) AS raw_id FROM delta GROUP BY productcode) pick USING (raw_id)
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
