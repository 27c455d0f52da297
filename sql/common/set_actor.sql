-- Attribute this session's changes to the Airflow dag/run/task (read by the audit triggers).
SELECT set_config('vehicle_sales.dag_id', '{{ dag.dag_id | replace("'", "''") }}', false),
       set_config('vehicle_sales.run_id', '{{ run_id | replace("'", "''") }}', false),
       set_config('vehicle_sales.task_id', '{{ task.task_id | replace("'", "''") }}', false);
