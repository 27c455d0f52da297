"""End to end: a real Airflow (``airflow standalone``) from this repository, a real PostgreSQL warehouse,
the REST API v2 and the UI in headless Chromium. Geocoding goes to the fake ArcGIS server of
``devtools/fake_arcgis.py`` through the ``arcgis_geocoding`` connection (``AIRFLOW_CONN_ARCGIS_GEOCODING``).

Run alone with ``make test PYTEST_ARGS="-m e2e"``. Artifacts (screenshots, the standalone log) land in
``artifacts/e2e/``. Every process started here is stopped at the end, pass or fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
import requests

from devtools.fake_arcgis import FakeArcGIS
from support import TRANSITIONS_BY_HAND, Api, free_port

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from airflow_local import kill_session, standalone_env, start, stop, wait_healthy  # noqa: E402

pytestmark = pytest.mark.e2e

DAG_ID = "vehicle_sales_rfm"
ARTIFACTS = ROOT / "artifacts" / "e2e"
RUN_TIMEOUT = 600
BACKFILL_DATES = ["2003-10-31", "2003-11-30", "2003-12-31"]  # month ends: the RFM page compares them
TRIGGER_DATE = "2004-06-30"
# odd characters on purpose: the key travels URL-quoted in the connection URI and must never surface
ARCGIS_KEY = f"e2e/arcgis+{os.urandom(4).hex()}=key"


def chromium_paths() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture
def stack(fresh_db_factory, tmp_path, arcgis):
    """airflow standalone in a temporary home on a free port, against a fresh warehouse, geocoding on
    and wired to the fake ArcGIS server."""
    warehouse = fresh_db_factory(with_schema=False)  # the DAG's create_schema builds it
    home = tmp_path / "airflow-home"
    port = free_port()
    password = "e2e-" + os.urandom(6).hex()
    # Airflow's own metadata in PostgreSQL too, as in production: SQLite serialises the scheduler's,
    # the DAG processor's and the API server's writes, which made a trigger time out under load
    metadata = fresh_db_factory(with_schema=False).replace("postgresql://", "postgresql+psycopg2://", 1)
    env = standalone_env(
        warehouse,
        home,
        port,
        password,
        metadata_url=metadata,
        extra={
            "AIRFLOW_VAR_RFM_REPORTS_DIR": str(tmp_path / "reports"),
            "AIRFLOW_VAR_SALES_DOWNLOAD_DIR": str(home / "downloads"),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        },
    )
    # the test process's own Airflow settings (unit test mode, its SQLite) must not leak in
    for key in (
        "AIRFLOW__CORE__UNIT_TEST_MODE",
        "AIRFLOW_VAR_GEOCODE_ENABLED",
        "AIRFLOW_VAR_SALES_SOURCE",
        "AIRFLOW_CONN_ARCGIS_GEOCODING",
    ):
        env.pop(key, None)
    env["AIRFLOW_CONN_ARCGIS_GEOCODING"] = arcgis.connection_uri()
    env["AIRFLOW_VAR_GEOCODE_ENABLED"] = "true"  # the default too, but the runs must not depend on it
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "standalone.log"
    log_path.write_text("")
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    proc = start(env, log_path)
    try:
        wait_healthy(port, proc, timeout=180)
        yield {
            "base": f"http://127.0.0.1:{port}",
            "password": password,
            "warehouse": warehouse,
            "reports": tmp_path / "reports",
            "arcgis": arcgis,
            "log_path": log_path,
        }
    finally:
        stop(proc)  # the process group, then a sweep of standalone's session
        stragglers = kill_session(proc.pid)
        if stragglers:  # stop() should have caught them all
            warnings.warn(f"processes outlived stop(): {stragglers}", stacklevel=1)


def q(url: str, sql: str, *args):
    with psycopg.connect(url) as c:
        return c.execute(sql, args).fetchall()


def test_trigger_backfill_logs_and_grid_in_a_real_airflow_and_browser(stack):
    t0 = time.monotonic()
    base, warehouse = stack["base"], stack["warehouse"]
    api = Api(base, "admin", stack["password"])

    deadline = time.monotonic() + 120  # the dag-processor parses the bundle
    while api.call("GET", f"/dags/{DAG_ID}", expect=(200, 404)).status_code == 404:
        assert time.monotonic() < deadline, (
            "the DAG was not parsed within 120 s (see artifacts/e2e/standalone.log)"
        )
        time.sleep(2)
    api.call("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})

    dated = api.call(
        "POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": f"{TRIGGER_DATE}T00:00:00Z", "conf": {}}
    ).json()
    undated = api.call("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {}}).json()
    assert undated["logical_date"] is None
    api.wait_run(dated["dag_run_id"])
    finished_undated = api.wait_run(undated["dag_run_id"])

    # one backfill per month end (the DAG is daily: a range would run every day in between)
    for day in BACKFILL_DATES:
        backfill = api.call(
            "POST",
            "/backfills",
            json={
                "dag_id": DAG_ID,
                "from_date": f"{day}T00:00:00Z",
                "to_date": f"{day}T00:00:00Z",
                "reprocess_behavior": "none",
                "max_active_runs": 1,
            },
        ).json()
        deadline = time.monotonic() + RUN_TIMEOUT
        while not api.call("GET", f"/backfills/{backfill['id']}").json().get("completed_at"):
            assert time.monotonic() < deadline, f"the backfill of {day} did not complete"
            time.sleep(3)
    backfill_runs = api.runs(run_type="backfill")
    assert sorted(r["logical_date"][:10] for r in backfill_runs) == BACKFILL_DATES
    assert all(r["state"] == "success" for r in backfill_runs), [
        (r["dag_run_id"], r["state"]) for r in backfill_runs
    ]
    for run in api.runs():  # e.g. the scheduled run that unpausing creates
        if run["state"] not in ("success", "failed"):
            api.wait_run(run["dag_run_id"])
    runs = api.runs()
    assert all(r["state"] == "success" for r in runs), [(r["dag_run_id"], r["state"]) for r in runs]

    # one point-in-time snapshot per date, each from its own Airflow run
    snapshots = q(
        warehouse, "SELECT as_of_date::text, airflow_run_id, n_customers FROM rfm_run WHERE status = 'loaded'"
    )
    by_date = {}
    for as_of, run_id, n in snapshots:
        by_date.setdefault(as_of, []).append((run_id, n))
    undated_as_of = datetime.fromisoformat(finished_undated["run_after"]).astimezone(UTC).date().isoformat()
    for day in [*BACKFILL_DATES, TRIGGER_DATE, undated_as_of]:
        assert len(by_date.get(day, [])) == 1, (day, by_date)
        expected = q(
            warehouse,
            "SELECT count(DISTINCT customer_id) FROM orders WHERE status IN ('Shipped', 'Resolved')"
            " AND order_date <= %s",
            day,
        )[0][0]
        assert by_date[day][0][1] == expected, day
    assert len(snapshots) == len({r["dag_run_id"] for r in runs})  # no run wrote two snapshots

    # a task's log, read through the API, ends with its counts
    n_dated = by_date[TRIGGER_DATE][0][1]
    log = api.log_text(dated["dag_run_id"], "compute_rfm")
    assert (
        "compute_rfm summary" in log and f"customers={n_dated}" in log and f"as_of_date={TRIGGER_DATE}" in log
    )
    stage_logs = [api.log_text(r["dag_run_id"], "stage_raw") for r in runs]
    assert sum("read=3000 = loaded=3000 + duplicate=0 + rejected=0" in t for t in stage_logs) == 1
    assert sum("file already ingested" in t for t in stage_logs) == len(runs) - 1
    assert stack["password"] not in "\n".join(stage_logs) + log

    geocoding_check(api, warehouse, stack["arcgis"], runs, stack["log_path"])

    # the RFM page is the API server's: nobody it has not authenticated gets it
    assert requests.get(f"{base}/rfm/", timeout=30).status_code == 401
    assert (
        requests.get(f"{base}/rfm/", headers={"Authorization": "Bearer forged"}, timeout=30).status_code
        == 403
    )
    assert "rfm_insight" in {p["name"] for p in api.call("GET", "/plugins").json()["plugins"]}

    browser_check(base, stack["password"], [r["dag_run_id"] for r in runs], dated["dag_run_id"], warehouse)
    (ARTIFACTS / "timing.json").write_text(
        json.dumps({"seconds": round(time.monotonic() - t0, 1), "runs": len(runs)})
    )


def summary_counts(log: str) -> dict[str, int]:
    """The integer counts of the ``geocode_addresses summary: k=v, ...`` line of a task log."""
    line = next(x for x in log.splitlines() if "geocode_addresses summary:" in x)
    pairs = (item.split("=", 1) for item in line.split("summary:", 1)[1].split(", "))
    return {k.strip(): int(v) for k, v in pairs if v.strip().isdigit()}


def geocoding_check(
    api: Api, warehouse: str, fake: FakeArcGIS, runs: list[dict], standalone_log: Path
) -> None:
    """Every run geocoded through the fake (none skipped), the first one paid for every address, the
    key never leaked, no address is left pending."""
    run_ids = [r["dag_run_id"] for r in runs]
    states = {run_id: api.task_instance(run_id, "geocode_addresses")["state"] for run_id in run_ids}
    assert set(states.values()) == {"success"}, states
    geo_logs = {run_id: api.log_text(run_id, "geocode_addresses") for run_id in run_ids}
    assert all("geocode_addresses summary: selected=" in t for t in geo_logs.values()), geo_logs
    assert not any("skipped=" in t for t in geo_logs.values()), geo_logs

    n_addresses = q(warehouse, "SELECT count(*) FROM addresses")[0][0]
    assert n_addresses > 0
    summaries = [summary_counts(t) for t in geo_logs.values()]
    paid = [c for c in summaries if c["sent"] > 0]
    # one run (runs are serialised: max_active_runs=1) selected and settled every address; the later
    # ones found nothing to do
    assert len(paid) == 1, geo_logs
    assert all(c["selected"] == 0 for c in summaries if c is not paid[0]), summaries
    counts = dict(q(warehouse, "SELECT geocode_status, count(*) FROM addresses GROUP BY 1"))
    assert "pending" not in counts and "failed" not in counts and counts.get("matched", 0) > 0, counts
    assert paid[0]["selected"] == n_addresses and paid[0]["from_cache"] == 0, paid[0]
    assert {k: paid[0][k] for k in ("matched", "low_score", "unmatched", "failed", "pending")} == {
        "matched": counts.get("matched", 0),
        "low_score": counts.get("low_score", 0),
        "unmatched": counts.get("unmatched", 0),
        "failed": 0,
        "pending": 0,
    }, (paid[0], counts)
    assert paid[0]["sent"] == len(fake.geocoded_texts), (paid[0], len(fake.geocoded_texts))
    assert sum(c["requests"] for c in summaries) == len(fake.requests), (summaries, len(fake.requests))
    assert q(warehouse, "SELECT count(*) FROM addresses WHERE geocoded_at IS NULL")[0][0] == 0

    # the fake was really called, with the key in the header only, and no text was paid for twice
    geocode_calls = [r for r in fake.requests if r.path == "geocodeAddresses"]
    assert geocode_calls and all(r.status == 200 for r in geocode_calls)
    assert all(r.headers.get("X-Esri-Authorization") == f"Bearer {ARCGIS_KEY}" for r in geocode_calls)
    assert len(fake.geocoded_texts) == len(set(fake.geocoded_texts)) > 0
    secrets = (ARCGIS_KEY, quote(ARCGIS_KEY, safe=""))
    for r in fake.requests:
        assert not any(s in r.raw_path or s in json.dumps(r.form) for s in secrets), r.raw_path

    # ... nor in any task log served by the API (every field, every attempt), nor in standalone's output
    bodies = []
    for run_id in run_ids:
        for task_id in ("download_raw", "geocode_addresses", "validate_config"):
            bodies += api.all_log_bodies(run_id, task_id)
    assert all(b.strip() for b in bodies)
    leaked = [b[:200] for b in bodies if any(s in b for s in secrets)]
    assert not leaked, leaked
    assert not any(s in standalone_log.read_text(errors="replace") for s in secrets)


def connection_form_check(driver, wait, base: str) -> None:
    """Admin -> Connections -> Add offers the bundle's "ArcGIS Geocoding" type (registered by its
    provider entry point) with the hook's field labels."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(f"{base}/connections")
    add = wait.until(
        lambda d: next(
            (b for b in d.find_elements(By.TAG_NAME, "button") if "Add Connection" in b.text), None
        )
    )
    add.click()
    box = wait.until(
        lambda d: next(
            (i for i in d.find_elements(By.CSS_SELECTOR, "input") if i.get_attribute("role") == "combobox"),
            None,
        )
    )
    box.click()
    box.send_keys("ArcGIS")
    option = wait.until(
        lambda d: next(
            (
                o
                for o in d.find_elements(By.CSS_SELECTOR, "[role=option]")
                if o.text.strip() == "ArcGIS Geocoding"
            ),
            None,
        )
    )
    assert option is not None
    box.send_keys(Keys.ENTER)
    labels = wait.until(
        lambda d: (
            {lbl.text.strip().rstrip(" *") for lbl in d.find_elements(By.TAG_NAME, "label")}
            if "GeocodeServer URL" in d.page_source
            else None
        )
    )
    assert {"GeocodeServer URL", "API key"} <= labels, labels
    assert "Login" not in labels, labels  # hidden: the key goes in the password
    driver.save_screenshot(str(ARTIFACTS / "connection_form.png"))


def browser_check(base: str, password: str, run_ids: list[str], log_run_id: str, warehouse: str) -> None:
    paths = chromium_paths()
    if paths is None:
        pytest.fail(
            "chromium and chromedriver are needed for the UI check: run scripts/ensure_chromium.sh "
            "(apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--window-size=1600,1000",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(paths[1]))
    wait = WebDriverWait(driver, 60)
    try:
        driver.get(f"{base}/auth/login")
        wait.until(ec.presence_of_element_located((By.NAME, "username"))).send_keys("admin")
        driver.find_element(By.NAME, "password").send_keys(password)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(lambda d: "/auth/login" not in d.current_url)

        driver.get(f"{base}/dags/{DAG_ID}")  # the DAG page opens on its grid view
        tasks = ("validate_config", "create_schema", "stage_raw", "refresh_core", "compute_rfm", "report")
        for run_id in run_ids:
            for task_id in tasks:
                cell = wait.until(
                    ec.presence_of_element_located(
                        (By.CSS_SELECTOR, f'[data-testid="grid-{run_id}-{task_id}"]')
                    )
                )
                badge = cell.find_element(By.CSS_SELECTOR, '[data-testid="task-state-badge"]')
                # the success badge carries the check-mark icon; other states draw other icons
                assert badge.find_elements(By.CSS_SELECTOR, 'path[d="M20 6 9 17l-5-5"]'), (run_id, task_id)
        driver.save_screenshot(str(ARTIFACTS / "grid.png"))

        driver.get(f"{base}/dags/{DAG_ID}/runs")  # the runs table spells the state out
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "tbody tr")))
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "tbody tr")) >= len(run_ids))
        rows = {r.text.split("\n", 1)[0]: r.text for r in driver.find_elements(By.CSS_SELECTOR, "tbody tr")}
        for run_id in run_ids:
            assert "Success" in rows.get(run_id, ""), (run_id, rows.get(run_id))
        driver.save_screenshot(str(ARTIFACTS / "runs.png"))

        driver.get(f"{base}/dags/{DAG_ID}/runs/{log_run_id}/tasks/compute_rfm")
        wait.until(lambda d: "compute_rfm summary" in d.page_source)
        driver.save_screenshot(str(ARTIFACTS / "task_log.png"))

        driver.get(f"{base}/dags/{DAG_ID}")
        wait.until(
            ec.element_to_be_clickable((By.CSS_SELECTOR, '[data-testid="trigger-dag-button"]'))
        ).click()
        wait.until(lambda d: "Number of segments" in d.page_source)
        driver.save_screenshot(str(ARTIFACTS / "trigger_form.png"))

        connection_form_check(driver, wait, base)
        rfm_page_check(driver, wait, base, warehouse)
    except Exception:
        driver.save_screenshot(str(ARTIFACTS / "failure.png"))
        raise
    finally:
        driver.quit()


def rfm_page_check(driver, wait, base: str, warehouse: str) -> None:
    """Browse -> RFM segments, as a user: compare each pair of month ends with the page's form; the
    matrix shown equals an independent SQL computation on the warehouse. Screenshot for the README."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select

    months = q(
        warehouse,
        "SELECT run_id FROM rfm_run WHERE status = 'loaded' AND as_of_date = ANY(%s::date[]) ORDER BY as_of_date",
        BACKFILL_DATES,
    )
    assert len(months) == len(BACKFILL_DATES)
    driver.set_window_size(1600, 1900)
    driver.get(f"{base}/plugin/rfm-segments")
    driver.switch_to.frame(wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "iframe"))))
    wait.until(ec.presence_of_element_located((By.ID, "transitions")))

    def showing(earlier: int, later: int):
        def check(d):
            try:
                t = d.find_element(By.ID, "transitions")
                return t.get_attribute("data-from-run") == str(earlier) and t.get_attribute(
                    "data-to-run"
                ) == str(later)
            except StaleElementReferenceException:
                return False

        return check

    for (earlier,), (later,) in zip(months, months[1:], strict=False):
        Select(driver.find_element(By.NAME, "from_run")).select_by_value(str(earlier))
        Select(driver.find_element(By.NAME, "to_run")).select_by_value(str(later))
        driver.find_element(By.ID, "compare").click()
        wait.until(showing(earlier, later))
        shown = {}
        for td in driver.find_elements(By.CSS_SELECTOR, "#transitions td[data-customers]"):
            n = int(td.get_attribute("data-customers"))
            if n:
                shown[(td.get_attribute("data-from"), td.get_attribute("data-to"))] = n
        expected = {(f, t): n for f, t, n in q(warehouse, TRANSITIONS_BY_HAND, earlier, later)}
        assert shown == expected, (earlier, later, shown, expected)
    assert "Biggest movers" in driver.page_source and "Trend over" in driver.page_source
    driver.switch_to.default_content()
    driver.save_screenshot(str(ARTIFACTS / "rfm_page.png"))
    driver.set_window_size(1600, 1000)
