-- compute_rfm: point-in-time RFM of every customer with qualifying orders, as of %(as_of)s, for one rfm_run.
-- Only orders dated on or before the as-of date count, so a backfill yields true historical
-- snapshots. Qualifying: status in %(statuses)s and, when %(lookback_days)s > 0, dated within
-- that many days up to the as-of date. Recency is measured to the latest qualifying order of the
-- window ('last_order', as the original notebook) or to the as-of date ('as_of').

DELETE FROM rfm_snapshot WHERE run_id = %(run_id)s;

INSERT INTO rfm_snapshot (run_id, customer_id, recency_days, frequency, monetary_amt, first_order, last_order)
WITH qualifying AS (
    SELECT o.order_no, o.customer_id, o.order_date, sum(ol.sales) AS amount
    FROM orders o
    JOIN order_lines ol ON ol.order_no = o.order_no
    WHERE o.status = ANY (%(statuses)s::text[])
      AND o.order_date <= %(as_of)s::date
      AND (%(lookback_days)s::int = 0 OR o.order_date > %(as_of)s::date - %(lookback_days)s::int)
      AND o.customer_id IS NOT NULL
    GROUP BY o.order_no, o.customer_id, o.order_date
), per_customer AS (
    SELECT customer_id, count(*) AS frequency, sum(amount) AS monetary,
           min(order_date) AS first_order, max(order_date) AS last_order
    FROM qualifying
    GROUP BY customer_id
), reference AS (
    SELECT CASE WHEN %(recency_reference)s = 'as_of' THEN %(as_of)s::date
                ELSE (SELECT max(order_date) FROM qualifying) END AS ref_date
)
SELECT %(run_id)s, p.customer_id, r.ref_date - p.last_order, p.frequency, p.monetary, p.first_order,
       p.last_order
FROM per_customer p CROSS JOIN reference r;

UPDATE rfm_run
   SET n_customers = (SELECT count(*) FROM rfm_snapshot WHERE run_id = %(run_id)s),
       start_date = (SELECT min(first_order) FROM rfm_snapshot WHERE run_id = %(run_id)s),
       end_date = %(as_of)s::date
 WHERE run_id = %(run_id)s;
