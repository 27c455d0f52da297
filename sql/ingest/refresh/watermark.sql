-- refresh_core, advance the watermark, record the event, empty the work tables, and show the counts
UPDATE refresh_window w
SET delta_max = (SELECT max(raw_id) FROM raw_orders_csv WHERE raw_id > w.after),
    delta_rows = (SELECT coalesce(sum(n_lines), 0) FROM pick_order);

INSERT INTO etl_watermark (target, last_id, updated_at)
SELECT 'core_refresh', delta_max, now() FROM refresh_window WHERE delta_max IS NOT NULL
ON CONFLICT (target) DO UPDATE SET last_id = EXCLUDED.last_id, updated_at = now();

INSERT INTO pipeline_events (step, details, airflow_dag_id, airflow_run_id, airflow_task_id)
SELECT 'refresh_core',
       jsonb_build_object(
           'delta_rows', w.delta_rows, 'watermark_before', w.after,
           'watermark_after', coalesce(w.delta_max, w.after), 'bulk', w.large,
           'counts', (SELECT jsonb_object_agg(s.step, jsonb_build_object('inserted', s.inserted, 'updated', s.updated))
                      FROM {{ refresh.counts('w') }})),
       current_setting('vehicle_sales.dag_id', true), current_setting('vehicle_sales.run_id', true),
       current_setting('vehicle_sales.task_id', true)
FROM refresh_window w;

-- the work tables left empty: the picks of a small delta (a large one's are temporary tables, which
-- the commit drops), then the window, read by the statement that deletes it
{{ refresh.clear_work_tables(refresh.picks, when='NOT (SELECT large FROM refresh_window)') }}

-- the task log shows this table (show_return_value_in_logs)
WITH w AS (DELETE FROM refresh_window RETURNING *)
SELECT s.step, s.inserted, s.updated, w.delta_rows::numeric AS delta_rows, w.after AS watermark_before,
       coalesce(w.delta_max, w.after) AS watermark_after
FROM w CROSS JOIN LATERAL {{ refresh.counts('w') }}
ORDER BY s.position;
