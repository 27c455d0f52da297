-- stage_raw: one order, one header. Within a file, every line of an order must agree with the order's
-- first line in that file on the customer (its identity: identity_text), the date and the status. A
-- line that does not leaves raw_orders_csv for the rejects, a conflict keeping both versions
-- (conflicting_raw_id: the first line, which stays loaded); its raw_text is read again from the file
-- by staging.py. Across files a later export may correct an order: refresh_core applies the change,
-- counts it and orders_audit keeps it. Parameters: %(file_id)s, and %(first_id)s..%(last_id)s, the
-- raw_ids reserved for the file (its rows are found through the key: a small file added to a large
-- warehouse reads its own rows, not the whole table), and %(orders)s: the order numbers to check (an
-- array: staging.HeaderWatch saw every other order's lines go in with the same header bytes) or NULL
-- (every order of the file).
-- Returns, per rejected line: its line number, how many physical lines it spans, its reject_id.
{% import 'common/bulk_load.sql' as bulk %}
-- (the distinct headers are gathered from parallel workers: cheap to pass on, however many)
SELECT set_config('parallel_tuple_cost', '{{ bulk.cheap_gather }}', true);
CREATE TEMP TABLE stage_header_conflicts ON COMMIT DROP AS
WITH suspects AS (  -- orders whose lines' header texts differ at all (hash aggregates, in parallel;
                    -- the three are required: never NULL)
    SELECT ordernumber
    FROM (SELECT DISTINCT ordernumber, customername, orderdate, status
          FROM raw_orders_csv
          WHERE raw_id BETWEEN %(first_id)s AND %(last_id)s AND source_file_id = %(file_id)s
            AND (%(orders)s::int[] IS NULL OR ordernumber = ANY (%(orders)s::int[]))) h
    GROUP BY ordernumber
    HAVING count(*) > 1
), lines AS (
    SELECT r.*, identity_text(r.customername) AS customer,
           first_value(r.raw_id) OVER w AS first_raw_id,
           first_value(r.source_line) OVER w AS first_line,
           first_value(r.customername) OVER w AS first_customername,
           first_value(identity_text(r.customername)) OVER w AS first_customer,
           first_value(r.orderdate) OVER w AS first_date,
           first_value(r.status) OVER w AS first_status
    FROM raw_orders_csv r
    JOIN suspects s ON s.ordernumber = r.ordernumber
    WHERE r.raw_id BETWEEN %(first_id)s AND %(last_id)s AND r.source_file_id = %(file_id)s
    WINDOW w AS (PARTITION BY r.ordernumber ORDER BY r.source_line)
)
SELECT raw_id, source_line, ordernumber, orderlinenumber, first_raw_id,
       -- physical lines: a line break can only be inside a quoted text field
       1 + length(concat(productline, productcode, customername, phone, addressline1, addressline2, city,
                         state, postalcode, country, territory, contactlastname, contactfirstname))
         - length(replace(concat(productline, productcode, customername, phone, addressline1,
                                 addressline2, city, state, postalcode, country, territory,
                                 contactlastname, contactfirstname), E'\n', '')) AS n_lines,
       format('conflicting order header: order %%s line %%s disagrees with the order''s first line in this'
              ' file (line %%s) on %%s: one order has one customer, date and status', ordernumber,
              orderlinenumber, first_line,
              concat_ws(', ',
                  CASE WHEN customer IS DISTINCT FROM first_customer
                       THEN format('CUSTOMERNAME %%L (line %%s: %%L)', customername, first_line, first_customername) END,
                  CASE WHEN orderdate IS DISTINCT FROM first_date
                       THEN format('ORDERDATE %%s (line %%s: %%s)', orderdate, first_line, first_date) END,
                  CASE WHEN status IS DISTINCT FROM first_status
                       THEN format('STATUS %%s (line %%s: %%s)', status, first_line, first_status) END)) AS reason
FROM lines
WHERE (customer, orderdate, status) IS DISTINCT FROM (first_customer, first_date, first_status);
RESET parallel_tuple_cost;

-- rejects of this file pointing at a line that leaves keep their text, lose the pointer
UPDATE raw_orders_rejects j SET conflicting_raw_id = NULL
FROM stage_header_conflicts c
WHERE j.source_file_id = %(file_id)s AND j.conflicting_raw_id = c.raw_id;

DELETE FROM raw_orders_csv r USING stage_header_conflicts c WHERE r.raw_id = c.raw_id;

WITH moved AS (
    INSERT INTO raw_orders_rejects (source_file_id, source_line, raw_text, reason, ordernumber,
                                    orderlinenumber, conflicting_raw_id)
    SELECT %(file_id)s, source_line, '', reason, ordernumber::text, orderlinenumber::text, first_raw_id
    FROM stage_header_conflicts
    RETURNING reject_id, source_line
)
SELECT m.source_line, c.n_lines, m.reject_id
FROM moved m JOIN stage_header_conflicts c USING (source_line)
ORDER BY m.source_line;
