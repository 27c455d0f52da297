-- stage_raw, begin (one transaction per file; the caller holds the ingest lock): dates read as
-- the fast path sends them (M/D/YYYY), the per-file working tables, and for a large file the bulk
-- path for raw_orders_csv (see common/bulk_load.sql: its foreign key, and when the file is at least
-- as large as the table, its keys).
-- Parameters: %(rows)s, the number of data lines the file holds.
{% import 'common/bulk_load.sql' as bulk %}
SET LOCAL DateStyle = 'ISO, MDY';
SET LOCAL maintenance_work_mem = '256MB';  -- the keys the bulk path rebuilds sort in memory
-- the file's checks hash its rows by order (stage_order_headers.sql) and by key (stage_load.sql): in
-- memory (at 4 MB, an aggregate of 100,000 orders spilled to disk in 21 batches)
SET LOCAL work_mem = '192MB';

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

{{ bulk.drop_constraints(['raw_orders_csv'], '%(rows)s', keys=True, indexes=True) }}
