-- refresh_core, products: the line and the MSRP of a product come from its latest lines where they are
-- not blank, and a blank in a newer line never erases a known value
WITH latest AS (
    SELECT btrim(r.productcode) AS productcode, nullif(btrim(rl.productline), '') AS productline, rm.msrp
    FROM pick_product p
    JOIN raw_orders_csv r ON r.raw_id = p.raw_id  -- (the product's latest row: its code, trimmed)
    LEFT JOIN raw_orders_csv rl ON rl.raw_id = p.line_raw_id
    LEFT JOIN raw_orders_csv rm ON rm.raw_id = p.msrp_raw_id
    ORDER BY p.raw_id  -- ids in the order the rows arrived
), upserted AS (
    INSERT INTO products AS p (product_code, product_line, msrp)
    SELECT productcode, productline, msrp FROM latest
    ON CONFLICT (product_code) DO UPDATE
        SET product_line = coalesce(EXCLUDED.product_line, p.product_line),
            msrp = coalesce(EXCLUDED.msrp, p.msrp)
        WHERE (p.product_line, p.msrp) IS DISTINCT FROM (coalesce(EXCLUDED.product_line, p.product_line),
                                                         coalesce(EXCLUDED.msrp, p.msrp))
    RETURNING (xmax = 0) AS inserted
)
{{ refresh.count(['products'], 'SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted') }};
