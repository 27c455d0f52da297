"""validate_phones and geocode_addresses inside real DAG runs: results, skip reasons, no key leaks."""

from __future__ import annotations

import psycopg
import pytest

from devtools.fake_arcgis import FakeArcGIS
from support import run_dag
from vehicle_sales.common.paths import SAMPLE_CSV

pytestmark = pytest.mark.skipif(not SAMPLE_CSV.exists(), reason="the bundled sample is missing")
KEY = "dag-test-secret-key-9f2c"


def q(url, sql, *args):
    with psycopg.connect(url) as c:
        return c.execute(sql, args).fetchall()


def test_run_validates_phones_and_geocodes_every_address_through_the_connection(
    warehouse, monkeypatch, caplog
):
    with FakeArcGIS(api_key=KEY) as fake:
        monkeypatch.setenv("AIRFLOW_CONN_ARCGIS_GEOCODING", fake.connection_uri())
        monkeypatch.setenv("AIRFLOW_VAR_GEOCODE_ENABLED", "true")
        dr, states = run_dag("2005-06-01")
        assert dr.state == "success", states
        assert states["validate_phones"] == "success" and states["geocode_addresses"] == "success", states
        first_requests = fake.count()
        assert first_requests > 0
        assert all(KEY not in r.raw_path and KEY not in str(r.form) for r in fake.requests)
        assert all(r.headers.get("X-Esri-Authorization") == f"Bearer {KEY}" for r in fake.requests if r.path)
        # a second run of another date: nothing new to validate or geocode, the cache answers
        dr2, states2 = run_dag("2005-06-02")
        assert dr2.state == "success", states2
        assert fake.count() - first_requests <= 1  # at most the service-info request
    phones = q(
        warehouse,
        "SELECT count(*), count(*) FILTER (WHERE phone_valid), count(*) FILTER (WHERE NOT phone_valid"
        " AND phone_invalid_reason IS NOT NULL), count(*) FILTER (WHERE phone_validated_at IS NULL)"
        " FROM customers",
    )[0]
    assert phones[0] == 92 and phones[1] > 60 and phones[1] + phones[2] == 92 and phones[3] == 0, phones
    geo = dict(q(warehouse, "SELECT geocode_status, count(*) FROM addresses GROUP BY 1"))
    assert sum(geo.values()) == 92 and "pending" not in geo and geo.get("matched", 0) > 50, geo
    attributed = q(warehouse, "SELECT DISTINCT airflow_task_id FROM addresses_audit WHERE operation = 'U'")
    assert attributed == [("geocode_addresses",)]
    assert KEY not in caplog.text
    audit_text = q(warehouse, "SELECT string_agg(a::text, '') FROM addresses_audit a")[0][0]
    assert KEY not in audit_text


def test_without_the_connection_geocoding_is_skipped_with_a_reason_and_the_run_succeeds(
    warehouse, monkeypatch, caplog
):
    monkeypatch.delenv("AIRFLOW_CONN_ARCGIS_GEOCODING", raising=False)
    monkeypatch.setenv("AIRFLOW_VAR_GEOCODE_ENABLED", "true")
    dr, states = run_dag("2005-06-01")
    assert dr.state == "success", states
    assert states["geocode_addresses"] == "skipped" and states["report"] == "success", states
    assert "no Airflow connection 'arcgis_geocoding'" in caplog.text
    assert q(warehouse, "SELECT DISTINCT geocode_status FROM addresses") == [("pending",)]


def test_an_invalid_key_fails_the_geocoding_task_at_once_without_leaking_it(warehouse, monkeypatch, caplog):
    with FakeArcGIS(api_key="the-right-key") as fake:
        monkeypatch.setenv("AIRFLOW_CONN_ARCGIS_GEOCODING", fake.connection_uri(api_key=KEY))
        monkeypatch.setenv("AIRFLOW_VAR_GEOCODE_ENABLED", "true")
        dr, states = run_dag("2005-06-01")
        assert states["geocode_addresses"] == "failed", states
        assert fake.count() <= 2  # no retry storm: service info at most, then the failing call
    assert states["report"] == "success"  # the analysis branch does not depend on geocoding
    assert KEY not in caplog.text
    assert q(warehouse, "SELECT DISTINCT geocode_status FROM addresses") == [("pending",)]
