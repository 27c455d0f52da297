-- stage_raw, first statements of the file's transaction: the ingest lock (before anything is read:
-- every earlier load is committed), then in the same round trip what the file's record says (its
-- data lines as download_raw counted them, NULL if it did not; staged_at, set if another run staged
-- this very file while this one waited for the lock) and how large raw_orders_csv is (the planner's
-- count: staging.KnownOrders chooses from it how to look up the orders already loaded).
-- Parameters: %(file_id)s.
{{ advisory_xact_lock('ingest') }};
SELECT f.row_count, f.staged_at, (SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'raw_orders_csv'::regclass) AS estimate
FROM (SELECT NULL) AS nothing
LEFT JOIN source_files f ON f.file_id = %(file_id)s
