"""The table of settings: load_config, the DAG's Params and the README all come from it."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from vehicle_sales.common.config import SETTINGS, PipelineConfig, dag_params, load_config, settings_markdown
from vehicle_sales.common.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_VARIABLES = {
    "sales_source",
    "sales_source_encoding",
    "sales_download_dir",
    "sales_source_roots",
    "sales_download_timeout",
    "sales_download_max_mb",
    "rfm_order_statuses",
    "rfm_lookback_days",
    "rfm_recency_reference",
    "rfm_n_clusters",
    "rfm_metric",
    "rfm_model_selection",
    "rfm_random_state",
    "rfm_reports_dir",
    "geocode_enabled",
    "geocode_min_score",
    "geocode_max_requests",
    "geocode_requests_per_second",
}
PUBLIC_PARAMS = {"source", "as_of_date", "n_clusters", "model_selection", "geocoding"}


def variables(**values):
    """A Variable getter backed by ``values`` (the default when a Variable is unset)."""
    return lambda key, default: values.get(key, default)


def test_public_names_stay_as_they_are():
    assert {s.variable for s in SETTINGS if s.variable} == PUBLIC_VARIABLES
    assert {s.param for s in SETTINGS if s.param} == PUBLIC_PARAMS


def test_defaults_of_the_table_are_the_defaults_of_the_config(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert load_config({}, variables()) == PipelineConfig()
    assert load_config({}, variables()).download_dir == tmp_path / "sales_downloads"


def test_a_param_wins_over_its_variable_which_wins_over_the_default():
    get = variables(rfm_n_clusters="5", geocode_enabled="false", rfm_metric="Manhattan")
    cfg = load_config({}, get)
    assert (cfg.rfm_n_clusters, cfg.geocode_enabled, cfg.rfm_metric) == (5, False, "manhattan")
    cfg = load_config({"n_clusters": 4, "geocoding": True, "as_of_date": "2004-06-30"}, get)
    assert (cfg.rfm_n_clusters, cfg.geocode_enabled, cfg.as_of_date) == (4, True, date(2004, 6, 30))
    assert load_config({"n_clusters": None, "source": ""}, get).rfm_n_clusters == 5  # empty = the Variable


@pytest.mark.parametrize(
    ("params", "vars_", "message"),
    [
        (
            {},
            {"rfm_metric": "chebyshev"},
            "rfm_metric must be one of euclidean, manhattan, cosine, got 'chebyshev'",
        ),
        ({"n_clusters": 13}, {}, "n_clusters / rfm_n_clusters must be between 2 and 12, got 13"),
        ({}, {"rfm_lookback_days": "a week"}, "rfm_lookback_days must be a whole number, got 'a week'"),
        ({}, {"geocode_enabled": "maybe"}, "geocoding / geocode_enabled must be true or false, got 'maybe'"),
        ({}, {"rfm_order_statuses": "Shipped,Lost"}, "rfm_order_statuses must be a comma list of"),
        ({"as_of_date": "30/06/2004"}, {}, "as_of_date must be a date YYYY-MM-DD, got '30/06/2004'"),
        ({}, {"geocode_min_score": "101"}, "geocode_min_score must be between 0 and 100, got 101.0"),
    ],
)
def test_a_bad_value_is_a_config_error_naming_the_setting(params, vars_, message):
    with pytest.raises(ConfigError) as err:
        load_config(params, variables(**vars_))
    assert str(err.value).startswith(message)


def test_the_dag_params_are_the_table_s_params():
    params = dag_params()
    assert set(params) == PUBLIC_PARAMS
    n = params["n_clusters"].schema
    assert (n["type"], n["minimum"], n["maximum"], n["title"]) == (
        ["null", "integer"],
        2,
        12,
        "Number of segments",
    )
    assert all(p.value is None for p in params.values())  # empty: use the Variable


def test_the_dag_uses_the_table_s_params():
    from support import get_dag

    dag = get_dag()
    assert set(dag.params) == PUBLIC_PARAMS
    assert {k: dag.params.get_param(k).schema for k in PUBLIC_PARAMS} == {
        k: p.schema for k, p in dag_params().items()
    }


def test_the_readme_settings_table_is_the_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- settings:start.*?-->\n(.*?)\n<!-- settings:end -->", readme, re.S)
    assert block, "README.md lacks the <!-- settings:start --> ... <!-- settings:end --> block"
    assert block.group(1).strip() == settings_markdown(), (
        "README's settings table differs from SETTINGS: paste the output of "
        "`.venv/bin/python -m vehicle_sales.common.config`"
    )


def test_an_unreachable_or_misconfigured_warehouse_says_which_connection_and_what_to_check(
    monkeypatch, pg_server_url
):
    from vehicle_sales.common.db import WarehouseConfigError, WarehouseUnavailable, connect
    from vehicle_sales.common.errors import PermanentError

    base = pg_server_url.rsplit("/", 1)[0]
    monkeypatch.setenv("AIRFLOW_CONN_SALES_DB", f"{base}/no_such_database_here")
    with pytest.raises(
        WarehouseConfigError, match=r"connection 'sales_db' \(host .*database no_such_database_here"
    ) as exc:
        connect()
    assert isinstance(exc.value, PermanentError) and "does not exist" in str(exc.value)
    monkeypatch.setenv("AIRFLOW_CONN_SALES_DB", "postgresql://nobody@127.0.0.1:1/warehouse")
    with pytest.raises(
        WarehouseUnavailable,
        match=r"could not reach the warehouse through connection 'sales_db' \(host 127.0.0.1, port 1",
    ):
        connect()


def test_failures_always_carry_a_message_and_refused_values_do_not_retry():
    import psycopg
    from airflow.sdk.exceptions import AirflowFailException

    from vehicle_sales.tasks import describe, fail_fast

    @fail_fast
    def silent():
        raise ValueError()

    with pytest.raises(RuntimeError, match="silent failed: ValueError \\(without a message\\)"):
        silent()

    @fail_fast
    def overflow():
        raise psycopg.errors.NumericValueOutOfRange("numeric field overflow")

    with pytest.raises(
        AirflowFailException, match="overflow: the warehouse refused a value .*numeric field overflow"
    ):
        overflow()
    assert describe(KeyError()) == "KeyError (without a message)"
