-- V001: the original design's 15 tables, their triggers and extensions.
-- Applied once (recorded in schema_version). Tables use IF NOT EXISTS so that a database created by
-- the original scripts (same tables, no schema_version) is adopted in place, not recreated.
-- Later migrations (V002...) widen and extend these tables; names and columns here are public.

DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM schema_version WHERE version = 1) THEN
        RETURN;
    END IF;

    CREATE EXTENSION IF NOT EXISTS unaccent;
    CREATE EXTENSION IF NOT EXISTS pg_trgm;

    -- raw landing: one row per accepted order line of an export
    CREATE TABLE IF NOT EXISTS raw_orders_csv (
        raw_id              bigserial PRIMARY KEY,
        ordernumber         int,
        quantityordered     int,
        priceeach           numeric(10,2),
        orderlinenumber     smallint,
        sales               numeric(12,2),
        orderdate           date,
        status              text,
        qtr_id              smallint,
        month_id            smallint,
        year_id             smallint,
        productline         text,
        msrp                numeric(10,2),
        productcode         text,
        customername        text,
        phone               text,
        addressline1        text,
        addressline2        text,
        city                text,
        state               text,
        postalcode          text,
        country             text,
        territory           text,
        contactlastname     text,
        contactfirstname    text,
        dealsize            text,
        created_at          timestamptz DEFAULT now(),
        UNIQUE (ordernumber, orderlinenumber)
    );

    -- how far each incremental step has read raw_orders_csv (by raw_id)
    CREATE TABLE IF NOT EXISTS etl_watermark (
        target      text PRIMARY KEY,
        last_id     bigint,
        updated_at  timestamptz DEFAULT now()
    );

    CREATE TABLE IF NOT EXISTS iso_country_codes (
        alpha3      char(3) PRIMARY KEY,
        alpha2      char(2) UNIQUE,
        name        varchar(50) UNIQUE
    );

    CREATE TABLE IF NOT EXISTS iso_country_aliases (
        alias       text PRIMARY KEY,
        alpha3      char(3) REFERENCES iso_country_codes (alpha3)
    );

    CREATE TABLE IF NOT EXISTS customers (
        customer_id         bigserial PRIMARY KEY,
        company_name        varchar(80),
        contact_last_name   text,
        contact_first_name  text,
        phone               varchar(25),
        phone_valid         boolean,
        created_at          timestamptz DEFAULT now(),
        updated_at          timestamptz DEFAULT now(),
        CONSTRAINT uc_company_name UNIQUE (company_name)
    );

    CREATE TABLE IF NOT EXISTS addresses (
        address_id      bigserial PRIMARY KEY,
        customer_id     bigint REFERENCES customers (customer_id),
        st_addr         text,
        sub_addr        text,
        city            text,
        region          text,
        postal_code     text,
        country_code    char(3) REFERENCES iso_country_codes (alpha3),
        score           numeric(5,2),
        created_at      timestamptz DEFAULT now(),
        updated_at      timestamptz DEFAULT now(),
        CONSTRAINT uc_cust_address UNIQUE (customer_id, st_addr, postal_code)
    );

    CREATE TABLE IF NOT EXISTS products (
        product_code    varchar(20) PRIMARY KEY,
        product_line    varchar(30),
        msrp            numeric(10,2)
    );

    CREATE TABLE IF NOT EXISTS orders (
        order_no        int PRIMARY KEY,
        customer_id     bigint REFERENCES customers (customer_id),
        ship_addr_id    bigint REFERENCES addresses (address_id),
        order_date      date,
        status          varchar(10) CONSTRAINT chk_status CHECK (status IN (
                            'Shipped', 'Resolved', 'Cancelled', 'On Hold', 'Disputed', 'In Process')),
        deal_size       varchar(6) CONSTRAINT chk_deal_size CHECK (deal_size IN ('Small', 'Medium', 'Large'))
    );

    CREATE TABLE IF NOT EXISTS order_lines (
        order_no        int REFERENCES orders (order_no),
        line_no         smallint,
        product_code    varchar(20) REFERENCES products (product_code),
        quantity        int,
        price_each      numeric(10,2),
        sales           numeric(12,2),
        PRIMARY KEY (order_no, line_no)
    );

    -- segmentation: one rfm_run per computation, labels, each customer's current segment
    CREATE TABLE IF NOT EXISTS rfm_run (
        run_id          bigserial PRIMARY KEY,
        start_date      date,
        end_date        date,
        calculated_on   timestamptz DEFAULT now()
    );

    CREATE TABLE IF NOT EXISTS rfm_segment_def (
        segment_id      serial PRIMARY KEY,
        label           varchar(20) UNIQUE
    );

    CREATE TABLE IF NOT EXISTS customer_segments (
        customer_id     bigint PRIMARY KEY REFERENCES customers (customer_id),
        segment_id      int REFERENCES rfm_segment_def (segment_id),
        run_id          bigint REFERENCES rfm_run (run_id),
        recency_days    int,
        frequency       int,
        monetary_amt    numeric(12,2),
        calculated_on   timestamptz DEFAULT now()
    );

    -- audit tables: one row per insert (I), real update (U) or delete (D)
    CREATE TABLE IF NOT EXISTS customers_audit (
        audit_id            bigserial PRIMARY KEY,
        customer_id         bigint,
        changed_at          timestamptz DEFAULT now(),
        changed_by          varchar(30) NOT NULL,
        operation           char(1),
        company_name        varchar(80),
        contact_last_name   text,
        contact_first_name  text,
        phone               varchar(25),
        phone_valid         boolean
    );

    CREATE TABLE IF NOT EXISTS addresses_audit (
        audit_id        bigserial PRIMARY KEY,
        address_id      bigint,
        changed_at      timestamptz DEFAULT now(),
        changed_by      varchar(30) NOT NULL,
        operation       char(1),
        st_addr         text,
        sub_addr        text,
        city            text,
        region          text,
        postal_code     text,
        country_code    char(3),
        score           numeric(5,2)
    );

    CREATE TABLE IF NOT EXISTS customer_segments_audit (
        audit_id        bigserial PRIMARY KEY,
        customer_id     bigint,
        changed_at      timestamptz DEFAULT now(),
        changed_by      varchar(30) NOT NULL,
        operation       char(1),
        segment_id      int,
        run_id          bigint,
        recency_days    int,
        frequency       int,
        monetary_amt    numeric(12,2)
    );

    -- the touch and audit triggers of these tables and their functions: ../triggers.sql

    INSERT INTO schema_version (version, description) VALUES (1, 'original design: 15 tables, triggers');
END
$migration$;
