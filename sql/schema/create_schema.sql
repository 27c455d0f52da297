-- create_schema: create or migrate the warehouse schema. Safe to run any number of times:
-- each migration applies once (recorded in schema_version), then the SQL functions (functions.sql),
-- the trigger functions and triggers (triggers.sql) and the insight views (views.sql) are re-applied if, and only if, their
-- text changed since the last run (md5 recorded in schema_definitions). An up-to-date database is left unchanged.
-- Serialised: two runs migrating at once would race on DDL.
{{ advisory_xact_lock('schema') }};

CREATE TABLE IF NOT EXISTS schema_version (
    version     int PRIMARY KEY,
    description text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- repeatable definitions (functions, triggers): name -> md5 of the text last applied
CREATE TABLE IF NOT EXISTS schema_definitions (
    name        text PRIMARY KEY,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

{% include 'schema/migrations/V001__original_design.sql' %}
{% include 'schema/migrations/V002__ingestion_and_audit.sql' %}
{% include 'schema/migrations/V003__contact_quality.sql' %}
{% include 'schema/migrations/V004__segmentation_runs.sql' %}
{% include 'schema/migrations/V005__segment_insight.sql' %}
{% include 'schema/migrations/V006__order_audit.sql' %}
{% include 'schema/migrations/V007__monetary_sums_unbounded.sql' %}
{% include 'schema/migrations/V008__reference_state.sql' %}
{% include 'schema/migrations/V009__refresh_work_tables.sql' %}

{#- a repeatable definition file, applied when its text differs from the last one applied -#}
{% macro repeatable(name, path) -%}
{% set body %}{% include path %}{% endset -%}
DO $definitions$
DECLARE
    body CONSTANT text := $body${{ body }}$body$;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM schema_definitions WHERE name = '{{ name }}' AND checksum = md5(body)) THEN
        EXECUTE body;
        INSERT INTO schema_definitions (name, checksum) VALUES ('{{ name }}', md5(body))
        ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now();
    END IF;
END
$definitions$;
{%- endmacro %}

{{ repeatable('functions', 'schema/functions.sql') }}

{{ repeatable('triggers', 'schema/triggers.sql') }}

{{ repeatable('views', 'schema/views.sql') }}

SELECT max(version) AS schema_version, count(*) AS migrations_applied FROM schema_version;
