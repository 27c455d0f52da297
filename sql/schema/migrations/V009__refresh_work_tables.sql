-- V009: refresh_core's work tables. The refresh keeps its window (the watermark, the delta's bound,
-- the bulk decision and each entity's counts) and its picks (the representative raw rows of the
-- delta's customers, addresses, products and orders) in tables, read by the statements that follow.
-- They were temporary tables: each one cost about 1.4 ms to create and drop (a file, catalog rows, a
-- row type, and for pick_grain a TOAST table and its index), every run, whatever the delta's size:
-- about 10 ms of a 38-50 ms refresh of 1,000 new lines. Here they are made once. Unlogged (their rows
-- are never needed after the transaction that writes them: a crash that empties them loses
-- nothing), written only by refresh_core under the ingest lock (one refresh at a time), and empty
-- between refreshes: each refresh empties them when it starts (refresh/window.sql) and before it
-- commits (refresh/watermark.sql), with clear_work_tables in refresh/_macros.sql.
-- Their columns are what refresh/window.sql and refresh/picks.sql select into them.
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM schema_version WHERE version = 9) THEN
        RETURN;
    END IF;

    CREATE UNLOGGED TABLE IF NOT EXISTS refresh_window (
        after                     bigint,
        customers_inserted        bigint,
        customers_updated         bigint,
        addresses_inserted        bigint,
        addresses_updated         bigint,
        unknown_country_inserted  bigint,
        unknown_country_updated   bigint,
        products_inserted         bigint,
        products_updated          bigint,
        orders_inserted           bigint,
        orders_updated            bigint,
        order_lines_inserted      bigint,
        order_lines_updated       bigint,
        delta_max                 bigint,
        delta_rows                bigint,
        delta_bound               bigint,
        large                     boolean
    );
    COMMENT ON TABLE refresh_window IS
        'refresh_core''s work table: the running refresh''s window and counts (empty between refreshes)';

    CREATE UNLOGGED TABLE IF NOT EXISTS pick_grain (
        customername      text,
        addressline1      text,
        addressline2      text,
        city              text,
        state             text,
        postalcode        text,
        country           text,
        customer          text,
        first_raw_id      bigint,
        raw_id            bigint,
        lastname_raw_id   bigint,
        firstname_raw_id  bigint,
        phone_raw_id      bigint
    );
    COMMENT ON TABLE pick_grain IS
        'refresh_core''s work table: the delta''s name-and-address groups and their raw rows (empty between refreshes)';

    CREATE UNLOGGED TABLE IF NOT EXISTS pick_product (
        raw_id       bigint,
        line_raw_id  bigint,
        msrp_raw_id  bigint
    );
    COMMENT ON TABLE pick_product IS
        'refresh_core''s work table: the delta''s products'' raw rows (empty between refreshes)';

    CREATE UNLOGGED TABLE IF NOT EXISTS pick_order (
        ordernumber  integer,
        raw_id       bigint,
        n_lines      bigint
    );
    COMMENT ON TABLE pick_order IS
        'refresh_core''s work table: the delta''s orders, their first raw rows and line counts (empty between refreshes)';

    INSERT INTO schema_version (version, description)
    VALUES (9, 'refresh_core''s work tables, made once instead of temporary tables per run');
END
$migration$;
