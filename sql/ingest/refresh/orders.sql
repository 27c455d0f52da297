-- refresh_core, orders: header fields from the order's first line of the delta (staging rejected the
-- lines of a file that disagree with it); a later export changing an order updates it, audited in
-- orders_audit and counted as updated
WITH names AS (
    -- a name as it stands in the delta, and the customer it is (picks.sql)
    SELECT DISTINCT customername AS raw_name, customer FROM pick_grain
), src AS (
    SELECT p.ordernumber, c.customer_id, ad.address_id, r.orderdate, r.status, r.dealsize
    FROM pick_order p
    JOIN raw_orders_csv r ON r.raw_id = p.raw_id
    JOIN names n ON n.raw_name = r.customername
    JOIN customers c ON c.company_name = n.customer
    LEFT JOIN addresses ad ON ad.customer_id = c.customer_id AND ad.source_key = {{ refresh.source_key('r') }}
    ORDER BY p.raw_id  -- ids in the order the rows arrived
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
{{ refresh.count(['orders'], 'SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted') }};
