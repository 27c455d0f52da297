-- check_quality: the data-quality gates before a run's segments are published. One row per gate:
-- (gate, ok, detail). A failing gate stops load_segments with the gate's name and detail.
-- Parameters: %(run_id)s (the run's rfm_run).
SELECT 'every staged file is accounted for (read = loaded + duplicate + rejected)',
       count(*) = 0,
       'files ' || string_agg(file_id::text || ' (' || rows_read || ' read, ' || rows_loaded || ' + ' ||
                              rows_duplicate || ' + ' || rows_rejected || ')', ', ')
FROM source_files
WHERE staged_at IS NOT NULL AND rows_read IS DISTINCT FROM rows_loaded + rows_duplicate + rows_rejected
UNION ALL
SELECT 'no order line without its keys, order or customer',
       count(*) = 0,
       count(*) || ' order lines: ' || string_agg(DISTINCT coalesce(ol.order_no::text, 'NULL'), ', ')
FROM order_lines ol
LEFT JOIN orders o ON o.order_no = ol.order_no
LEFT JOIN customers c ON c.customer_id = o.customer_id
WHERE ol.order_no IS NULL OR ol.line_no IS NULL OR o.order_no IS NULL OR c.customer_id IS NULL
UNION ALL
SELECT 'no raw row without its key',
       count(*) = 0,
       count(*) || ' raw rows'
FROM raw_orders_csv
WHERE ordernumber IS NULL OR orderlinenumber IS NULL
UNION ALL
SELECT 'the fit assigns every customer of the snapshot exactly once',
       (SELECT count(*) FROM rfm_snapshot WHERE run_id = %(run_id)s)
           = (SELECT count(*) FROM rfm_fit_assignment WHERE run_id = %(run_id)s)
       AND NOT EXISTS (SELECT 1 FROM rfm_fit_assignment a
                       LEFT JOIN rfm_snapshot s ON s.run_id = a.run_id AND s.customer_id = a.customer_id
                       WHERE a.run_id = %(run_id)s AND s.customer_id IS NULL),
       (SELECT count(*) FROM rfm_snapshot WHERE run_id = %(run_id)s) || ' customers in the snapshot, '
           || (SELECT count(*) FROM rfm_fit_assignment WHERE run_id = %(run_id)s) || ' assigned'
UNION ALL
SELECT 'segment sizes sum to the snapshot',
       coalesce(sum(n), 0) = (SELECT count(*) FROM rfm_snapshot WHERE run_id = %(run_id)s),
       string_agg(segment_label || ' ' || n, ', ')
FROM (SELECT segment_label, count(*) AS n FROM rfm_fit_assignment WHERE run_id = %(run_id)s
      GROUP BY segment_label) s
