-- stage_raw, begin (one transaction per file): serialised with every other ingestion, dates read as
-- the fast path sends them (M/D/YYYY), the per-file working tables, and for a large file the bulk
-- path for raw_orders_csv's foreign key (see common/bulk_foreign_keys.sql).
-- Parameters: %(rows)s, the number of records the file holds.
{% import 'common/bulk_foreign_keys.sql' as bulk %}
{{ advisory_xact_lock('ingest') }};
SET LOCAL DateStyle = 'ISO, MDY';

-- Rows whose key is provably new go straight into raw_orders_csv by COPY; stage_rows holds the
-- others (an order number already loaded, or a key repeated within the file) with raw_orders_csv's
-- column types, for stage_load.sql to classify; stage_bad holds rows rejected by validation.
CREATE TEMP TABLE stage_rows (LIKE raw_orders_csv) ON COMMIT DROP;
ALTER TABLE stage_rows DROP COLUMN source_file_id, DROP COLUMN created_at, ADD COLUMN raw_text text;

CREATE TEMP TABLE stage_bad ON COMMIT DROP AS
SELECT source_line, raw_text, reason, ordernumber, orderlinenumber FROM raw_orders_rejects WITH NO DATA;

{{ bulk.drop_foreign_keys(['raw_orders_csv'], '%(rows)s') }}
