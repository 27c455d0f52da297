-- V005: segment insight.
--  * rfm_run_segment_summary: per loaded run and segment, its size, revenue, value rank and mean
--    R/F/M, written when the run is published (load_segments.sql); the trend and the UI page read
--    it instead of aggregating every run's history (100 runs of 10,000 customers: 300 rows, not 1M);
--  * rfm_report_file: the report of a run (HTML, Markdown, charts) stored with it, so that any
--    machine can read it (the reports folder is on whichever worker ran the task);
--  * the views over them (transitions, trend) live in views.sql.
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM schema_version WHERE version = 5) THEN
        RETURN;
    END IF;

    CREATE TABLE IF NOT EXISTS rfm_run_segment_summary (
        run_id          bigint NOT NULL REFERENCES rfm_run (run_id) ON DELETE CASCADE,
        segment_id      int NOT NULL REFERENCES rfm_segment_def (segment_id),
        value_rank      int,                    -- within the run: 1 = most valuable
        customers       int NOT NULL,
        revenue         numeric(16,2) NOT NULL, -- sum of the customers' monetary_amt
        recency_mean    double precision NOT NULL,
        frequency_mean  double precision NOT NULL,
        monetary_mean   double precision NOT NULL,
        PRIMARY KEY (run_id, segment_id)
    );
    -- runs published before V005: summarised from their history (value rank: the label's current one)
    INSERT INTO rfm_run_segment_summary (run_id, segment_id, value_rank, customers, revenue,
                                         recency_mean, frequency_mean, monetary_mean)
    SELECT h.run_id, h.segment_id, min(d.value_rank), count(*), sum(h.monetary_amt),
           avg(h.recency_days), avg(h.frequency), avg(h.monetary_amt)
    FROM customer_segment_history h
    JOIN rfm_segment_def d ON d.segment_id = h.segment_id
    GROUP BY h.run_id, h.segment_id
    ON CONFLICT DO NOTHING;

    CREATE TABLE IF NOT EXISTS rfm_report_file (
        run_id          bigint NOT NULL REFERENCES rfm_run (run_id) ON DELETE CASCADE,
        name            text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]*$'),
        content_type    text NOT NULL,
        content         bytea NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (run_id, name)
    );

    CREATE INDEX IF NOT EXISTS ix_rfm_run_loaded ON rfm_run (as_of_date, run_id) WHERE status = 'loaded';

    INSERT INTO schema_version (version, description)
    VALUES (5, 'segment insight: per-run segment summary, stored reports');
END
$migration$;
