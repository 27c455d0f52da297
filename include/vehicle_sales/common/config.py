"""Configuration: read once per task into a typed, validated object.

Precedence: a value given in the run's Params (manual trigger form or conf) wins over the Airflow
Variable, which wins over the default. Secrets are never here: they live in Connections.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from vehicle_sales.common.errors import ConfigError

STATUSES = ("Shipped", "Resolved", "Cancelled", "On Hold", "Disputed", "In Process")
METRICS = ("euclidean", "manhattan", "cosine")
RECENCY_REFERENCES = ("last_order", "as_of")

# Variable name -> default (text, as Variables are)
VARIABLE_DEFAULTS: dict[str, str | None] = {
    "sales_source": None,
    "sales_source_encoding": "auto",
    "sales_download_dir": None,
    "rfm_order_statuses": "Shipped,Resolved",
    "rfm_lookback_days": "0",
    "rfm_recency_reference": "last_order",
    "rfm_n_clusters": "3",
    "rfm_metric": "euclidean",
    "rfm_model_selection": "false",
    "rfm_random_state": "0",
    "rfm_reports_dir": None,
    "geocode_enabled": "true",
    "geocode_min_score": "80",
    "geocode_max_requests": "200",
    "geocode_requests_per_second": "5",
}


@dataclass(frozen=True)
class PipelineConfig:
    sales_source: str | None = None
    sales_source_encoding: str = "auto"
    download_dir: Path = field(default_factory=lambda: _airflow_home() / "sales_downloads")
    as_of_date: date | None = None
    rfm_order_statuses: tuple[str, ...] = ("Shipped", "Resolved")
    rfm_lookback_days: int = 0
    rfm_recency_reference: str = "last_order"
    rfm_n_clusters: int = 3
    rfm_metric: str = "euclidean"
    rfm_model_selection: bool = False
    rfm_random_state: int = 0
    reports_dir: Path = field(default_factory=lambda: _airflow_home() / "reports")
    geocode_enabled: bool = True
    geocode_min_score: float = 80.0
    geocode_max_requests: int = 200
    geocode_requests_per_second: float = 5.0


def _airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser()


def parse_bool(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {text!r}")


def parse_int(name: str, text: str, low: int, high: int) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {text!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def parse_float(name: str, text: str, low: float, high: float) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {text!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def parse_choice(name: str, text: str, allowed: tuple[str, ...]) -> str:
    value = str(text).strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {text!r}")
    return value


def parse_statuses(name: str, text: str) -> tuple[str, ...]:
    by_key = {s.casefold(): s for s in STATUSES}
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    unknown = [t for t in items if t.casefold() not in by_key]
    if not items or unknown:
        raise ConfigError(f"{name} must be a comma list of {', '.join(STATUSES)}; got {text!r}")
    return tuple(dict.fromkeys(by_key[t.casefold()] for t in items))


def parse_date(name: str, value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ConfigError(f"{name} must be a date YYYY-MM-DD, got {value!r}") from None


def _variable_getter() -> Callable[[str, str | None], str | None]:
    from airflow.sdk import Variable

    def get(key: str, default: str | None) -> str | None:
        return Variable.get(key, default=default)

    return get


def load_config(params: Mapping[str, Any] | None = None,
                get_variable: Callable[[str, str | None], str | None] | None = None) -> PipelineConfig:
    """Build the configuration from Params (``params``) over Variables over defaults."""
    params = dict(params or {})
    get = get_variable or _variable_getter()

    def var(key: str) -> str | None:
        return get(key, VARIABLE_DEFAULTS[key])

    def pick(param: str, key: str) -> Any:
        value = params.get(param)
        return var(key) if value is None or value == "" else value

    download_dir = var("sales_download_dir")
    reports_dir = var("rfm_reports_dir")
    return PipelineConfig(
        sales_source=pick("source", "sales_source"),
        sales_source_encoding=str(var("sales_source_encoding") or "auto"),
        download_dir=Path(download_dir) if download_dir else _airflow_home() / "sales_downloads",
        as_of_date=parse_date("as_of_date", params.get("as_of_date")),
        rfm_order_statuses=parse_statuses("rfm_order_statuses", var("rfm_order_statuses")),
        rfm_lookback_days=parse_int("rfm_lookback_days", var("rfm_lookback_days"), 0, 36500),
        rfm_recency_reference=parse_choice("rfm_recency_reference", var("rfm_recency_reference"),
                                           RECENCY_REFERENCES),
        rfm_n_clusters=parse_int("n_clusters / rfm_n_clusters", pick("n_clusters", "rfm_n_clusters"), 2, 12),
        rfm_metric=parse_choice("rfm_metric", var("rfm_metric"), METRICS),
        rfm_model_selection=_as_bool("model_selection / rfm_model_selection",
                                     pick("model_selection", "rfm_model_selection")),
        rfm_random_state=parse_int("rfm_random_state", var("rfm_random_state"), 0, 2**31 - 1),
        reports_dir=Path(reports_dir) if reports_dir else _airflow_home() / "reports",
        geocode_enabled=_as_bool("geocoding / geocode_enabled", pick("geocoding", "geocode_enabled")),
        geocode_min_score=parse_float("geocode_min_score", var("geocode_min_score"), 0, 100),
        geocode_max_requests=parse_int("geocode_max_requests", var("geocode_max_requests"), 0, 10_000_000),
        geocode_requests_per_second=parse_float("geocode_requests_per_second",
                                                var("geocode_requests_per_second"), 0.01, 1000),
    )


def _as_bool(name: str, value: Any) -> bool:
    return value if isinstance(value, bool) else parse_bool(name, str(value))
