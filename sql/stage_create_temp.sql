-- Per-file staging tables (dropped at commit). Rows whose key is provably new go straight into
-- raw_orders_csv by COPY; stage_rows holds the others (an order number already loaded, or a key
-- repeated within the file), with raw_orders_csv's column types, for sql/stage_load.sql to classify;
-- stage_bad holds rows rejected by validation in Python.
CREATE TEMP TABLE stage_rows (
    raw_id              bigint NOT NULL,     -- reserved in file order (see staging.py)
    source_line         int NOT NULL,
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
    raw_text            text
) ON COMMIT DROP;

CREATE TEMP TABLE stage_bad (
    source_line     int,
    raw_text        text,
    reason          text,
    ordernumber     text,
    orderlinenumber text
) ON COMMIT DROP;
