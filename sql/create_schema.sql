-- Create or migrate the warehouse schema. Safe to run any number of times:
-- each migration applies once (recorded in schema_version) and an up-to-date database is unchanged.
-- Serialised: two runs migrating at once would race on DDL.
SELECT pg_advisory_xact_lock(hashtext('vehicle_sales_rfm:schema'));

CREATE TABLE IF NOT EXISTS schema_version (
    version     int PRIMARY KEY,
    description text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

{% include 'migrations/V001__original_design.sql' %}
{% include 'migrations/V002__ingestion_and_audit.sql' %}
{% include 'migrations/V003__contact_quality.sql' %}
{% include 'migrations/V004__segmentation_runs.sql' %}

SELECT max(version) AS schema_version, count(*) AS migrations_applied FROM schema_version;
