-- load_reference_data: working tables shaped like the tables they fill, filled by COPY.
CREATE TEMP TABLE tmp_iso (LIKE iso_country_codes) ON COMMIT DROP;
CREATE TEMP TABLE tmp_alias (LIKE iso_country_aliases) ON COMMIT DROP;
