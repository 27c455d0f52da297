-- stage_raw, the working tables of classification (stage_load.sql), created once routing has left
-- records to classify or reject (a file whose every line went straight in needs neither).
-- Lines whose key is provably new go straight into raw_orders_csv by COPY; stage_rows holds the
-- other valid records (an order number already loaded, a key repeated within the file, a record
-- the fast path left to the careful one) with raw_orders_csv's column types, for stage_load.sql
-- to classify; stage_bad holds what the row rules rejected. n_lines: the physical lines a record
-- spans (a quoted field may hold a line break), which the counts add up.
CREATE TEMP TABLE stage_rows (LIKE raw_orders_csv) ON COMMIT DROP;
ALTER TABLE stage_rows DROP COLUMN source_file_id, DROP COLUMN created_at,
    ADD COLUMN n_lines int NOT NULL DEFAULT 1, ADD COLUMN raw_text text;

CREATE TEMP TABLE stage_bad ON COMMIT DROP AS
SELECT source_line, raw_text, reason, ordernumber, orderlinenumber, 1 AS n_lines
FROM raw_orders_rejects WITH NO DATA;
