-- V004: versioned segmentation runs.
--  * rfm_run describes one computation: as-of date, settings, model, metrics, Airflow run;
--    (airflow_dag_id, airflow_run_id) is unique so re-running a DAG run replaces its results;
--  * rfm_snapshot holds the RFM values computed for a run (input of the model);
--  * customer_segment_history keeps every run's assignments; customer_segments stays the
--    "current" view (original table) and is refreshed from the newest as-of date;
--  * rfm_model_selection records the model comparison of a run when it was asked for.
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM schema_version WHERE version = 4) THEN
        RETURN;
    END IF;

    ALTER TABLE rfm_run
        ADD COLUMN IF NOT EXISTS as_of_date date,
        ADD COLUMN IF NOT EXISTS n_customers int,
        ADD COLUMN IF NOT EXISTS n_clusters int,
        ADD COLUMN IF NOT EXISTS algorithm text,
        ADD COLUMN IF NOT EXISTS params jsonb,
        ADD COLUMN IF NOT EXISTS silhouette double precision,
        ADD COLUMN IF NOT EXISTS calinski_harabasz double precision,
        ADD COLUMN IF NOT EXISTS davies_bouldin double precision,
        ADD COLUMN IF NOT EXISTS loss double precision,
        ADD COLUMN IF NOT EXISTS order_statuses text[],
        ADD COLUMN IF NOT EXISTS lookback_days int,
        ADD COLUMN IF NOT EXISTS recency_reference text,
        ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'computed',
        ADD COLUMN IF NOT EXISTS airflow_dag_id text,
        ADD COLUMN IF NOT EXISTS airflow_run_id text;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'uc_rfm_run_airflow') THEN
        ALTER TABLE rfm_run ADD CONSTRAINT uc_rfm_run_airflow UNIQUE (airflow_dag_id, airflow_run_id);
    END IF;

    ALTER TABLE rfm_segment_def ALTER COLUMN label TYPE text;
    ALTER TABLE rfm_segment_def
        ADD COLUMN IF NOT EXISTS description text,
        ADD COLUMN IF NOT EXISTS value_rank int;

    CREATE TABLE IF NOT EXISTS rfm_snapshot (
        run_id          bigint NOT NULL REFERENCES rfm_run (run_id) ON DELETE CASCADE,
        customer_id     bigint NOT NULL REFERENCES customers (customer_id),
        recency_days    int NOT NULL,
        frequency       int NOT NULL,
        monetary_amt    numeric(14,2) NOT NULL,
        first_order     date,
        last_order      date,
        PRIMARY KEY (run_id, customer_id)
    );

    CREATE TABLE IF NOT EXISTS customer_segment_history (
        run_id          bigint NOT NULL REFERENCES rfm_run (run_id) ON DELETE CASCADE,
        customer_id     bigint NOT NULL REFERENCES customers (customer_id),
        segment_id      int NOT NULL REFERENCES rfm_segment_def (segment_id),
        recency_days    int NOT NULL,
        frequency       int NOT NULL,
        monetary_amt    numeric(14,2) NOT NULL,
        is_medoid       boolean NOT NULL DEFAULT false,
        PRIMARY KEY (run_id, customer_id)
    );
    CREATE INDEX IF NOT EXISTS ix_segment_history_customer ON customer_segment_history (customer_id);

    CREATE TABLE IF NOT EXISTS rfm_model_selection (
        run_id              bigint NOT NULL REFERENCES rfm_run (run_id) ON DELETE CASCADE,
        algorithm           text NOT NULL,
        k                   int NOT NULL,
        metric              text NOT NULL,
        init                text NOT NULL,
        silhouette          double precision,
        calinski_harabasz   double precision,
        davies_bouldin      double precision,
        loss                double precision,
        fit_seconds         double precision,
        chosen              boolean NOT NULL DEFAULT false,
        PRIMARY KEY (run_id, algorithm, k, metric, init)
    );

    -- the fit of a run, waiting for load_segments (fit and load are separate, retryable tasks)
    CREATE TABLE IF NOT EXISTS rfm_fit (
        run_id      bigint PRIMARY KEY REFERENCES rfm_run (run_id) ON DELETE CASCADE,
        result      jsonb NOT NULL,     -- algorithm, params, metrics, segment names, model selection
        fitted_at   timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS rfm_fit_assignment (
        run_id          bigint NOT NULL REFERENCES rfm_run (run_id) ON DELETE CASCADE,
        customer_id     bigint NOT NULL,
        segment_label   text NOT NULL,
        is_medoid       boolean NOT NULL,
        PRIMARY KEY (run_id, customer_id)
    );

    ALTER TABLE customer_segments ALTER COLUMN monetary_amt TYPE numeric(14,2);
    ALTER TABLE customer_segments_audit ALTER COLUMN monetary_amt TYPE numeric(14,2);

    INSERT INTO schema_version (version, description)
    VALUES (4, 'segmentation: versioned runs, snapshots, history, model selection');
END
$migration$;
