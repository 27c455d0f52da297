"""Geocoding: pure functions, the ArcGIS hook over real HTTP (devtools/fake_arcgis.py) and the warehouse
side on a real PostgreSQL loaded with the bundled sample."""

from __future__ import annotations

import json
import logging
import math
import threading
import time

import psycopg
import pytest

from devtools.fake_arcgis import FakeArcGIS
from support import ingest, refresh_core
from vehicle_sales.common.db import Actor
from vehicle_sales.common.errors import PermanentError
from vehicle_sales.common.paths import SAMPLE_CSV
from vehicle_sales.contact.arcgis.hook import (
    AUTH_HEADER,
    DEFAULT_BASE_URL,
    ArcGISAuthError,
    ArcGISGeocodingHook,
    ArcGISMalformedResponseError,
    ArcGISRequestError,
    ArcGISTransientError,
    RequestCapReached,
)
from vehicle_sales.contact.arcgis.payloads import GeocodeResult
from vehicle_sales.contact.geocoding import (
    classify,
    geocode_addresses,
    map_country,
    normalise_address_key,
    standardised_fields,
)
from vehicle_sales.ingest.reference import load_reference_data

KEY = "s3cret/Key+with=odd&chars"
FAST = dict(
    timeout=0.5,
    max_retries=3,
    backoff_base=0.01,
    backoff_max=0.05,
    max_retry_after=0.5,
    requests_per_second=None,
)
RECORD = {
    "OBJECTID": 1,
    "Address": "361 Furth Circle",
    "City": "San Diego",
    "Region": "CA",
    "Postal": "91217",
    "CountryCode": "USA",
}


# -- pure functions -----------------------------------------------------------------------------------
def test_normalise_address_key_ignores_case_spacing_and_punctuation_only():
    a = normalise_address_key("361 Furth Circle", None, "San Diego", "CA", "91217", "USA")
    assert a == "361 furth circle||san diego|ca|91217|usa"
    assert normalise_address_key("  361  FURTH circle.", "", "san diego,", "ca", "91217", "usa") == a
    assert normalise_address_key("361 Furth Circle", None, "San Diego", "CA", "91218", "USA") != a
    assert normalise_address_key("363 Furth Circle", None, "San Diego", "CA", "91217", "USA") != a
    # a part may not bleed into its neighbour
    assert normalise_address_key("a", "b", None, None, None, None) != normalise_address_key(
        "a b", None, None, None, None, None
    )
    assert (
        normalise_address_key("Berguvsvägen 8", None, "Luleå", None, "S-958 22", "SWE")
        == "berguvsvägen 8||luleå||s-958 22|swe"
    )


@pytest.mark.parametrize(
    "score,status,expected",
    [
        (100, "M", "matched"),
        (80, "M", "matched"),
        (79.99, "M", "low_score"),
        (95, "T", "low_score"),
        (0, "U", "unmatched"),
        (None, "U", "unmatched"),
        (None, None, "unmatched"),
        (85, "m", "matched"),
        ("88.5", "M", "matched"),
    ],
)
def test_classify(score, status, expected):
    assert classify(score, status, 80.0) == expected


def test_map_country_to_our_alpha3_codes():
    known, a2 = {"USA", "FRA"}, {"US": "USA", "FR": "FRA"}
    assert map_country("USA", known, a2) == "USA"
    assert map_country("fra", known, a2) == "FRA"
    assert map_country("US", known, a2) == "USA"
    assert map_country("XKX", known, a2) is None
    assert map_country("", known, a2) is None and map_country(None, known, a2) is None


def test_standardised_fields_keep_originals_where_the_service_says_nothing():
    original = ("361 Furth Circle", None, "San Diego", "CA", "91217", "USA")
    attrs = {
        "StAddr": "361 Furth Cir",
        "SubAddr": "",
        "City": "San Diego",
        "Region": "California",
        "RegionAbbr": "CA",
        "Postal": "92101",
        "CountryCode": "USA",
    }
    assert standardised_fields(original, attrs, {"USA"}) == (
        "361 Furth Cir",
        None,
        "San Diego",
        "CA",
        "92101",
        "USA",
    )
    attrs = {"StAddr": "", "City": "", "Region": "Calif", "Postal": " ", "CountryCode": "ZZZ"}
    assert standardised_fields(original, attrs, {"USA"}) == (
        "361 Furth Circle",
        None,
        "San Diego",
        "Calif",
        "91217",
        "USA",
    )


def test_result_parsing_handles_nan_locations_and_result_ids():
    r = GeocodeResult.from_location(
        {
            "address": "",
            "location": {"x": float("nan"), "y": "NaN"},
            "score": 0,
            "attributes": {"ResultID": 3, "Status": "U"},
        }
    )
    assert (r.status, r.longitude, r.latitude, r.match_addr) == ("U", None, None, None)
    assert "ResultID" not in r.attributes
    r = GeocodeResult.from_location(
        {"address": "X", "location": {"x": 1.5, "y": -2}, "score": 97.2, "attributes": {"Status": "M"}}
    )
    assert (r.status, r.score, r.longitude, r.latitude) == ("M", 97.2, 1.5, -2.0)


@pytest.mark.parametrize(
    "host,port,schema,url",
    [
        (None, None, None, DEFAULT_BASE_URL),
        ("geocode-api.arcgis.com", None, "arcgis/rest/services/World/GeocodeServer", DEFAULT_BASE_URL),
        (
            "http://127.0.0.1",
            8123,
            "arcgis/rest/services/World/GeocodeServer",
            "http://127.0.0.1:8123/arcgis/rest/services/World/GeocodeServer",
        ),
        (
            "http://127.0.0.1:8123/arcgis/rest/services/World/GeocodeServer/",
            None,
            "",
            "http://127.0.0.1:8123/arcgis/rest/services/World/GeocodeServer",
        ),
        (
            "https://geo.example.com",
            None,
            None,
            "https://geo.example.com/arcgis/rest/services/World/GeocodeServer",
        ),
    ],
)
def test_base_url_from_connection_fields(host, port, schema, url):
    assert ArcGISGeocodingHook.base_url_from(host, port, schema) == url


def test_retry_after_parsing():
    assert ArcGISGeocodingHook.parse_retry_after("3") == 3.0
    assert ArcGISGeocodingHook.parse_retry_after(None) is None
    assert ArcGISGeocodingHook.parse_retry_after("soon") is None
    from email.utils import formatdate

    assert 8 <= ArcGISGeocodingHook.parse_retry_after(formatdate(time.time() + 10, usegmt=True)) <= 10


# -- the hook over real HTTP --------------------------------------------------------------------------
@pytest.fixture
def fake():
    with FakeArcGIS(api_key=KEY) as server:
        yield server


@pytest.fixture
def arcgis_env(fake, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ARCGIS_GEOCODING", fake.connection_uri())
    return fake


def make_hook(**kwargs) -> ArcGISGeocodingHook:
    return ArcGISGeocodingHook(**{**FAST, **kwargs})


def test_connection_uri_with_http_host_round_trips(fake, monkeypatch):
    from airflow.sdk import BaseHook, Connection

    uri = fake.connection_uri()
    assert uri.startswith("arcgis-geocoding://http://")
    c = Connection.from_uri(uri, conn_id="arcgis_geocoding")
    assert (c.conn_type, c.host, c.port, c.password) == (
        "arcgis_geocoding",
        "http://127.0.0.1",
        fake.port,
        KEY,
    )
    assert ArcGISGeocodingHook.base_url_from(c.host, c.port, c.schema) == fake.base_url
    again = Connection.from_uri(c.get_uri(), conn_id="x")
    assert (again.host, again.port, again.schema, again.password) == (c.host, c.port, c.schema, c.password)
    # the JSON form with the whole URL in host works as well, and survives get_uri/from_uri too
    j = Connection.from_json(
        json.dumps({"conn_type": "arcgis_geocoding", "host": fake.base_url, "password": KEY}), conn_id="y"
    )
    j2 = Connection.from_uri(j.get_uri(), conn_id="y")
    assert ArcGISGeocodingHook.base_url_from(j2.host, j2.port, j2.schema) == fake.base_url
    # and through the environment, as a deployment would set it
    monkeypatch.setenv("AIRFLOW_CONN_ARCGIS_GEOCODING", uri)
    got = BaseHook.get_connection("arcgis_geocoding")
    assert got.password == KEY
    hook = make_hook()
    assert hook.base_url == fake.base_url
    assert hook.batch_size() == 5


def test_key_travels_only_in_the_header(arcgis_env, caplog):
    caplog.set_level(logging.DEBUG)
    hook = make_hook()
    info = hook.service_info()
    assert info["locatorProperties"]["MaxBatchSize"] == 10
    locations = hook.geocode_addresses([RECORD, {**RECORD, "OBJECTID": 2, "Address": "1 Nowhere Lane"}])
    cands = hook.find_address_candidates(
        {"address": "361 Furth Circle", "city": "San Diego", "postal": "91217"}
    )
    assert {loc["attributes"]["ResultID"] for loc in locations} == {1, 2}
    assert len(cands) == 1 and cands[0]["score"] >= 60
    assert [r.path for r in arcgis_env.requests] == ["", "geocodeAddresses", "findAddressCandidates"]
    for r in arcgis_env.requests:
        assert r.headers.get(AUTH_HEADER) == f"Bearer {KEY}"
        assert KEY not in r.raw_path and "token" not in r.raw_path.lower()
        assert "token" not in r.form and all(KEY not in v for v in r.form.values())
    geo = arcgis_env.requests[1]
    assert geo.method == "POST" and geo.form["forStorage"] == "true" and geo.form["f"] == "json"
    assert {"Match_addr", "StAddr", "Score", "Status", "CountryCode"} <= set(geo.form["outFields"].split(","))
    assert KEY not in caplog.text


def test_429_retry_after_is_honoured_and_capped(arcgis_env):
    hook = make_hook(max_retry_after=0.3)
    arcgis_env.fault("retry_after", endpoint="geocodeAddresses", seconds=0.2)
    t = time.monotonic()
    assert len(hook.geocode_addresses([RECORD])) == 1
    assert time.monotonic() - t >= 0.2
    assert arcgis_env.count("geocodeAddresses") == 2
    arcgis_env.fault("retry_after", endpoint="geocodeAddresses", seconds=3600)  # capped at 0.3 s
    t = time.monotonic()
    hook.geocode_addresses([RECORD])
    assert 0.3 <= time.monotonic() - t < 2


def test_5xx_then_success_and_exhaustion(arcgis_env):
    hook = make_hook(max_retries=3)
    arcgis_env.fault("http", endpoint="geocodeAddresses", status=503, times=2)
    arcgis_env.fault("error", endpoint="geocodeAddresses", code=500)  # ArcGIS's HTTP-200 500 is transient too
    assert len(hook.geocode_addresses([RECORD])) == 1
    assert arcgis_env.count("geocodeAddresses") == 4
    arcgis_env.clear()
    arcgis_env.fault("http", endpoint="geocodeAddresses", status=502, times=10)
    with pytest.raises(ArcGISTransientError, match="gave up after 4 attempts; last: HTTP 502"):
        hook.geocode_addresses([RECORD])
    assert arcgis_env.count("geocodeAddresses") == 4


def test_timeouts_and_dropped_connections_are_retried(arcgis_env):
    hook = make_hook(timeout=0.3)
    arcgis_env.fault("slow", endpoint="geocodeAddresses", seconds=1.0)
    arcgis_env.fault("drop", endpoint="geocodeAddresses")
    assert len(hook.geocode_addresses([RECORD])) == 1
    assert [r.fault for r in arcgis_env.requests] == ["slow", "drop", None]


def test_invalid_key_fails_at_once_without_leaking_it(fake, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-Key-0000"
    monkeypatch.setenv("AIRFLOW_CONN_ARCGIS_GEOCODING", fake.connection_uri(api_key=wrong))
    hook = make_hook()
    with pytest.raises(ArcGISAuthError) as err:
        hook.geocode_addresses([RECORD])
    assert isinstance(err.value, PermanentError)
    assert fake.count() == 1 and hook.requests_made == 1
    text = str(err.value)
    assert "498" in text and "arcgis_geocoding" in text and "Fix the API key" in text
    assert wrong not in text and wrong not in caplog.text and KEY not in caplog.text
    for code in (499, 403):
        fake.clear()
        fake.fault("error", code=code, message="Token Required" if code == 499 else "Not permitted")
        with pytest.raises(ArcGISAuthError, match=str(code)):
            make_hook().service_info()
        assert fake.count() == 1


def test_server_echoing_the_key_is_scrubbed_from_messages(arcgis_env):
    arcgis_env.fault("error", code=400, message=f"bad request with token {KEY}")
    with pytest.raises(ArcGISRequestError) as err:
        make_hook().geocode_addresses([RECORD])
    assert KEY not in str(err.value) and "***" in str(err.value)
    assert arcgis_env.count() == 1  # a 400 is not retried


def test_malformed_json_is_a_distinct_error_and_not_retried(arcgis_env):
    arcgis_env.fault("malformed", endpoint="geocodeAddresses")
    with pytest.raises(ArcGISMalformedResponseError, match="not JSON"):
        make_hook().geocode_addresses([RECORD])
    arcgis_env.fault("malformed", endpoint="geocodeAddresses", body=b'{"spatialReference": {}}')
    with pytest.raises(ArcGISMalformedResponseError, match="no 'locations'"):
        make_hook().geocode_addresses([RECORD])
    assert arcgis_env.count("geocodeAddresses") == 2


def test_rate_limit_and_request_cap(arcgis_env):
    hook = make_hook(requests_per_second=20)
    t = time.monotonic()
    for _ in range(6):
        hook.find_address_candidates({"address": "1 Main Street"})
    assert time.monotonic() - t >= 0.25  # 5 gaps of 50 ms
    gaps = [b.at - a.at for a, b in zip(arcgis_env.requests, arcgis_env.requests[1:], strict=False)]
    assert min(gaps) >= 0.04
    hook.set_request_budget(2)
    arcgis_env.fault("http", status=500)  # the retry spends the budget too
    hook.find_address_candidates({"address": "1 Main Street"})
    with pytest.raises(RequestCapReached):
        hook.find_address_candidates({"address": "1 Main Street"})
    assert arcgis_env.count() == 8


def test_redirects_are_not_followed(fake, monkeypatch):
    with FakeArcGIS(api_key=KEY) as other:
        monkeypatch.setenv("AIRFLOW_CONN_ARCGIS_GEOCODING", fake.connection_uri())
        fake.fault("http", status=302, headers={"Location": other.base_url + "/geocodeAddresses"})
        with pytest.raises(ArcGISRequestError, match="HTTP 302"):
            make_hook().geocode_addresses([RECORD])
        assert other.count() == 0


def test_batch_size_comes_from_the_service(arcgis_env):
    assert make_hook().batch_size() == 5
    assert make_hook(max_batch_size=3).batch_size() == 3
    arcgis_env.suggested_batch = None
    assert make_hook().batch_size() == 10
    arcgis_env.batch_supported = False
    assert make_hook().batch_size() is None


# -- the warehouse --------------------------------------------------------------------------------------
def load_sample(url: str) -> None:
    with psycopg.connect(url) as c:
        load_reference_data(c)
        ingest(c, SAMPLE_CSV)
        refresh_core(c, run_id="load")


@pytest.fixture
def sample_db(db_url):
    load_sample(db_url)
    return db_url


@pytest.fixture
def gconn(sample_db):
    with psycopg.connect(sample_db) as c:
        yield c


def states(conn) -> dict[str, int]:
    return dict(conn.execute("SELECT geocode_status, count(*) FROM addresses GROUP BY 1").fetchall())


def run(conn, **kwargs):
    kwargs.setdefault("actor", Actor("vehicle_sales_rfm", "manual__1", "geocode_addresses"))
    return geocode_addresses(conn, make_hook(**kwargs.pop("hook_options", {})), **kwargs)


def test_every_sample_address_ends_in_a_clear_state_and_a_second_run_is_free(arcgis_env, gconn, caplog):
    caplog.set_level(logging.INFO)
    originals = {
        r[0]: r[1:]
        for r in gconn.execute("SELECT address_id, st_addr, city, postal_code, country_code FROM addresses")
    }
    counts = run(gconn)
    assert counts.selected == 92 and counts.pending == 0 and counts.failed == 0
    assert counts.requests == 1 + math.ceil(92 / 5)  # service info + batches of SuggestedBatchSize
    assert arcgis_env.batch_sizes() == [5] * 18 + [2]
    s = states(gconn)
    assert set(s) == {"matched", "low_score", "unmatched"} and sum(s.values()) == 92
    assert (s["matched"], s["low_score"], s["unmatched"]) == (
        counts.matched,
        counts.low_score,
        counts.unmatched,
    )
    rows = gconn.execute(
        "SELECT address_id, geocode_status, st_addr, city, postal_code, country_code, score, match_addr,"
        " longitude, latitude, geocode_candidate, geocode_key, geocode_attempts, geocoded_at FROM addresses"
    ).fetchall()
    for aid, status, st, city, postal, country, score, match, lon, lat, cand, key, attempts, at in rows:
        assert (
            at is not None
            and attempts == 1
            and key
            == normalise_address_key(
                *gconn.execute(
                    "SELECT st_addr, sub_addr, city, region, postal_code, country_code FROM addresses"
                    " WHERE address_id = %s",
                    (aid,),
                ).fetchone()
            )
        )
        if status == "matched":
            assert score >= 80 and lon is not None and lat is not None and match and cand is None
            assert country == originals[aid][3]  # the service's alpha-3 is ours
        elif status == "low_score":
            assert (
                score < 80 and (st, city, postal, country) == originals[aid] and cand["score"] == float(score)
            )
            assert cand["attributes"]["StAddr"]
        else:
            assert (
                score == 0 and lon is None and lat is None and (st, city, postal, country) == originals[aid]
            )
    # standardisation happened (the fake abbreviates "Street" -> "St" and upper-cases postal codes)
    changed = sum(1 for r in rows if r[1] == "matched" and (r[2], r[3], r[4], r[5]) != originals[r[0]])
    assert changed > 0
    assert gconn.execute("SELECT count(*) FROM geocode_cache").fetchone()[0] == 92
    assert counts.summary().startswith("selected=92, distinct_texts=92, from_cache=0, sent=92")
    wm = gconn.execute("SELECT last_id FROM etl_watermark WHERE target = 'addr_geocode'").fetchone()[0]
    assert wm == gconn.execute("SELECT max(address_id) FROM addresses").fetchone()[0]

    arcgis_env.clear()
    again = run(gconn)
    assert again.selected == 0 and again.requests == 0 and arcgis_env.count() == 0
    # the audit trail carries the run's attribution, one row per changed address
    audit = gconn.execute(
        "SELECT count(*), count(DISTINCT address_id), min(airflow_run_id), max(airflow_run_id),"
        " min(airflow_task_id), min(changed_by) FROM addresses_audit WHERE operation = 'U'"
    ).fetchone()
    assert audit[:5] == (92, 92, "manual__1", "manual__1", "geocode_addresses")
    assert "(vehicle_sales_rfm/manual__1/geocode_addresses)" in audit[5]


def add_customer_at(conn, company: str, like_address_id: int, *, shout: bool = False) -> int:
    """A new customer whose address is the text of ``like_address_id`` (upper-cased if ``shout``)."""
    cid = conn.execute(
        "INSERT INTO customers (company_name) VALUES (%s) RETURNING customer_id", (company,)
    ).fetchone()[0]
    st, sub, city, region, postal, country = conn.execute(
        "SELECT st_addr, sub_addr, city, region, postal_code, country_code FROM addresses WHERE address_id = %s",
        (like_address_id,),
    ).fetchone()
    if shout:
        st, city = f"  {st.upper()} ", city.upper()
    aid = conn.execute(
        "INSERT INTO addresses (customer_id, source_key, st_addr, sub_addr, city, region, postal_code, country_code)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING address_id",
        (cid, f"{company}|x", st, sub, city, region, postal, country),
    ).fetchone()[0]
    conn.commit()
    return aid


def test_customers_sharing_an_address_cost_one_request(arcgis_env, gconn):
    twin = add_customer_at(gconn, "Twin Co", 1, shout=True)
    counts = run(gconn)
    assert counts.selected == 93 and counts.distinct_texts == 92 and counts.sent == 92
    assert len(arcgis_env.geocoded_texts) == 92
    pair = gconn.execute(
        "SELECT geocode_status, score, longitude, latitude FROM addresses WHERE address_id IN (1, %s)",
        (twin,),
    ).fetchall()
    assert len(pair) == 2 and pair[0] == pair[1]
    # a customer arriving later at an already geocoded address is answered from the cache (an
    # address whose text stayed as it was sent: a matched one now carries the standardised text)
    arcgis_env.clear()
    kept = gconn.execute(
        "SELECT min(address_id) FROM addresses WHERE geocode_status <> 'matched' AND address_id > 1"
    ).fetchone()[0]
    late = add_customer_at(gconn, "Late Co", kept)
    counts = run(gconn)
    assert (counts.selected, counts.from_cache, counts.requests) == (1, 1, 0)
    assert arcgis_env.count() == 0
    assert (
        gconn.execute("SELECT geocode_status FROM addresses WHERE address_id = %s", (late,)).fetchone()[0]
        != "pending"
    )


def test_request_cap_leaves_the_rest_pending_and_a_later_run_finishes(arcgis_env, gconn):
    first = run(gconn, max_requests=4)  # service info + 3 batches of 5
    assert first.requests == 4 and "request cap" in first.stopped
    assert first.pending == 92 - 15 and states(gconn)["pending"] == 77
    wm = gconn.execute("SELECT last_id FROM etl_watermark WHERE target = 'addr_geocode'").fetchone()[0]
    assert (
        wm
        < gconn.execute("SELECT min(address_id) FROM addresses WHERE geocode_status = 'pending'").fetchone()[
            0
        ]
    )
    second = run(gconn)
    assert second.selected == 77 and second.pending == 0 and "pending" not in states(gconn)
    assert len(arcgis_env.geocoded_texts) == 92  # nothing was paid for twice


def test_faults_leave_failed_or_pending_rows_that_the_next_run_completes(arcgis_env, gconn):
    arcgis_env.fault("malformed", endpoint="geocodeAddresses")  # batch 1: pending
    arcgis_env.fault("partial", endpoint="geocodeAddresses", drop=2)  # batch 2: 2 failed
    arcgis_env.fault("http", endpoint="geocodeAddresses", status=503, times=2)  # batch 3: retried, fine
    counts = run(gconn, hook_options={"max_retries": 2})
    assert counts.malformed_batches == 1 and counts.failed == 2 and counts.pending == 5
    failed = gconn.execute(
        "SELECT address_id, geocode_error, geocode_attempts FROM addresses WHERE geocode_status = 'failed'"
    ).fetchall()
    assert len(failed) == 2 and all("no result" in e and n == 1 for _, e, n in failed)
    wm = gconn.execute("SELECT last_id FROM etl_watermark WHERE target = 'addr_geocode'").fetchone()[0]
    assert wm < min(a for a, _, _ in failed)

    # the service gives up entirely on the next run: that batch is failed, the run stops, the rest waits
    arcgis_env.clear()
    arcgis_env.fault("http", endpoint="geocodeAddresses", status=500, times=3)
    counts = run(gconn, hook_options={"max_retries": 2})
    assert counts.selected == 7 and counts.failed == 5 and counts.pending == 2
    assert "gave up after 3 attempts" in counts.stopped
    attempts = dict(
        gconn.execute(
            "SELECT address_id, geocode_attempts FROM addresses WHERE geocode_status = 'failed'"
        ).fetchall()
    )
    assert len(attempts) == 7 and set(attempts.values()) == {1}  # the 2 left over stay failed, untouched

    counts = run(gconn)
    assert counts.pending == 0 and counts.failed == 0
    assert set(states(gconn)) <= {"matched", "low_score", "unmatched"}
    assert gconn.execute("SELECT count(*) FROM addresses WHERE geocode_error IS NOT NULL").fetchone()[0] == 0


def test_bad_key_raises_permanent_error_and_changes_nothing(fake, monkeypatch, gconn):
    monkeypatch.setenv("AIRFLOW_CONN_ARCGIS_GEOCODING", fake.connection_uri(api_key="nope-nope"))
    with pytest.raises(ArcGISAuthError):
        run(gconn)
    assert fake.count() == 1
    assert states(gconn) == {"pending": 92}
    assert gconn.execute("SELECT count(*) FROM addresses_audit WHERE operation = 'U'").fetchone()[0] == 0


def test_an_edited_address_is_geocoded_again(arcgis_env, gconn):
    run(gconn)
    arcgis_env.clear()
    gconn.execute("UPDATE addresses SET st_addr = '2 Vague Road' WHERE address_id = 3")
    gconn.commit()
    counts = run(gconn)
    assert (counts.selected, counts.sent, counts.low_score) == (1, 1, 1)
    row = gconn.execute(
        "SELECT geocode_status, st_addr, geocode_candidate FROM addresses WHERE address_id = 3"
    ).fetchone()
    assert (
        row[0] == "low_score" and row[1] == "2 Vague Road" and row[2]["attributes"]["StAddr"] == "2 Vague Rd"
    )


def test_locator_without_batch_support_falls_back_to_single_requests(arcgis_env, gconn):
    arcgis_env.batch_supported = False
    counts = run(gconn, max_requests=30)
    assert arcgis_env.count("geocodeAddresses") == 0
    assert arcgis_env.count("findAddressCandidates") == 29 == counts.sent
    assert counts.pending == 92 - 29
    counts = run(gconn, max_requests=100)
    assert counts.pending == 0 and "pending" not in states(gconn)


def test_an_address_edited_during_the_run_is_not_overwritten(arcgis_env, gconn, sample_db):
    arcgis_env.fault("slow", endpoint="geocodeAddresses", seconds=0.8)  # the first batch holds address 1

    def edit():
        time.sleep(0.3)
        with psycopg.connect(sample_db) as other:
            other.execute("UPDATE addresses SET st_addr = '99 Edited Street' WHERE address_id = 1")
            other.commit()

    editor = threading.Thread(target=edit)
    editor.start()
    counts = run(gconn, hook_options={"timeout": 5})
    editor.join()
    assert counts.changed_meanwhile == 1 and counts.pending == 1
    assert gconn.execute(
        "SELECT st_addr, geocode_status, score FROM addresses WHERE address_id = 1"
    ).fetchone() == ("99 Edited Street", "pending", None)
    counts = run(gconn)
    assert (counts.selected, counts.sent, counts.pending) == (1, 1, 0)
