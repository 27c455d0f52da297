-- orders: header fields from the order's first line
WITH src AS (
    SELECT d.ordernumber, c.customer_id, ad.address_id, d.orderdate, d.status, d.dealsize
    FROM delta d
    JOIN (SELECT min(raw_id) AS raw_id FROM delta GROUP BY ordernumber) pick USING (raw_id)
    JOIN customers c ON c.company_name = d.customername
    LEFT JOIN addresses ad ON ad.customer_id = c.customer_id AND ad.source_key = d.source_key
), upserted AS (
    INSERT INTO orders AS o (order_no, customer_id, ship_addr_id, order_date, status, deal_size)
    SELECT ordernumber, customer_id, address_id, orderdate, status, dealsize FROM src
    ON CONFLICT (order_no) DO UPDATE
        SET customer_id = EXCLUDED.customer_id, ship_addr_id = EXCLUDED.ship_addr_id,
            order_date = EXCLUDED.order_date, status = EXCLUDED.status, deal_size = EXCLUDED.deal_size
        WHERE (o.customer_id, o.ship_addr_id, o.order_date, o.status, o.deal_size)
              IS DISTINCT FROM (EXCLUDED.customer_id, EXCLUDED.ship_addr_id, EXCLUDED.order_date,
                                EXCLUDED.status, EXCLUDED.deal_size)
    RETURNING (xmax = 0) AS inserted
)
INSERT INTO refresh_stats
SELECT 'orders', count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted;
