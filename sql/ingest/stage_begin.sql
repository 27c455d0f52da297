-- stage_raw, begin (one transaction per file; the caller holds the ingest lock): dates read as
-- the fast path sends them (M/D/YYYY), and for a large file the bulk path for raw_orders_csv (see
-- common/bulk_load.sql: its foreign key, and when the file is at least as large as the table, its
-- keys). The working tables of classification come later, when needed (stage_tables.sql). Last, a
-- block of %(rows)s consecutive raw_ids is reserved (hi/lo): returns the first (see
-- staging.begin; none for an empty file: 0), and whether the file took the bulk path.
-- Parameters: %(rows)s, the number of data lines the file holds.
{% import 'common/bulk_load.sql' as bulk %}
SET LOCAL DateStyle = 'ISO, MDY';
SET LOCAL maintenance_work_mem = '256MB';  -- the keys the bulk path rebuilds sort in memory
-- the file's checks hash its rows by order (stage_order_headers.sql) and by key (stage_load.sql): in
-- memory (at 4 MB, an aggregate of 100,000 orders spilled to disk in 21 batches)
SET LOCAL work_mem = '192MB';

{{ bulk.drop_constraints(['raw_orders_csv'], '%(rows)s', keys=True, indexes=True) }}
SELECT CASE WHEN %(rows)s > 0
            THEN setval(pg_get_serial_sequence('raw_orders_csv', 'raw_id'),
                        nextval(pg_get_serial_sequence('raw_orders_csv', 'raw_id')) + %(rows)s - 1) - %(rows)s + 1
            ELSE 0 END AS first_id,
       {{ bulk.taken() }} AS bulk
