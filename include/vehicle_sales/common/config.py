"""Configuration: one table of settings, read once per task into a typed, validated object.

:data:`SETTINGS` is the single place a setting is defined: its field of :class:`PipelineConfig`,
its Airflow Variable, its Param (the trigger form, for one run), its parser, its default and its
help text. It drives :func:`load_config`, the DAG's Params (:func:`dag_params`) and the README's
settings table (:func:`settings_markdown`; a test checks the README against it).

Precedence: a value given in the run's Params (manual trigger form or conf) wins over the Airflow
Variable, which wins over the default. Secrets are never here: they live in Connections.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any

from vehicle_sales.common.columns import STATUSES
from vehicle_sales.common.errors import ConfigError

METRICS = ("euclidean", "manhattan", "cosine")
RECENCY_REFERENCES = ("last_order", "as_of")


def _airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser()


# --- parsers: (label for messages, raw value) -> typed value ------------------------------------
def parse_bool(name: str, text: Any) -> bool:
    if isinstance(text, bool):
        return text
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {text!r}")


def int_between(low: int, high: int) -> Callable[[str, Any], int]:
    def parse(name: str, text: Any) -> int:
        try:
            value = int(str(text).strip())
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
        return value

    return parse


def float_between(low: float, high: float) -> Callable[[str, Any], float]:
    def parse(name: str, text: Any) -> float:
        try:
            value = float(str(text).strip())
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {text!r}") from None
        if not low <= value <= high:
            raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
        return value

    return parse


def one_of(allowed: tuple[str, ...]) -> Callable[[str, Any], str]:
    def parse(name: str, text: Any) -> str:
        value = str(text).strip().lower()
        if value not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {text!r}")
        return value

    return parse


def parse_statuses(name: str, text: Any) -> tuple[str, ...]:
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


def parse_text(name: str, value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def parse_codec(name: str, value: Any) -> str:
    return str(value or "auto")


def parse_folders(name: str, value: Any) -> tuple[Path, ...] | None:
    """A comma-separated list of folders; unset: None (the default roots)."""
    if value in (None, ""):
        return None
    folders = tuple(Path(t.strip()).expanduser() for t in str(value).split(",") if t.strip())
    relative = [str(f) for f in folders if not f.is_absolute()]
    if not folders or relative:
        raise ConfigError(f"{name} must be a comma list of absolute folders, got {value!r}")
    return folders


def folder_under_home(subfolder: str) -> Callable[[str, Any], Path]:
    """A folder path; unset: ``$AIRFLOW_HOME/<subfolder>``."""

    def parse(name: str, value: Any) -> Path:
        return Path(value) if value not in (None, "") else _airflow_home() / subfolder

    return parse


# --- the table -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Setting:
    """One setting. ``variable``: its Airflow Variable; ``param``: its Param (one run), with the
    JSON-schema ``param_type`` and extra Param keywords; ``default``: text, as a Variable would be."""

    field: str
    parse: Callable[[str, Any], Any]
    help: str
    variable: str | None = None
    param: str | None = None
    default: str | None = None
    default_help: str | None = None  # how the README states the default, when not the text itself
    param_title: str | None = None
    param_description: str | None = None
    param_type: tuple[str, ...] = ()
    param_extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How error messages name it: 'n_clusters / rfm_n_clusters'."""
        return (
            " / ".join(n for n in (self.param, self.variable) if n)
            if self.param and self.variable
            else (self.variable or self.param or self.field)
        )


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "sales_source",
        parse_text,
        variable="sales_source",
        param="source",
        help="path, `file://` or http(s) URL of the export",
        default_help="unset or `sample`: the bundled `data/sample_sales_data.csv`",
        param_title="Source override",
        param_type=("null", "string"),
        param_description="Path or http(s) URL of an export for this run only. "
        "Empty: Variable sales_source (unset = the bundled sample).",
    ),
    Setting(
        "sales_source_encoding",
        parse_codec,
        variable="sales_source_encoding",
        default="auto",
        help="`auto` (detected) or a Python codec name: `utf-8`, `cp1252`, `cp850`, `latin-1`…",
    ),
    Setting(
        "download_dir",
        folder_under_home("sales_downloads"),
        variable="sales_download_dir",
        help="where URLs are downloaded (per worker: stage_raw on another worker fetches the file again)",
        default_help="`$AIRFLOW_HOME/sales_downloads`",
    ),
    Setting(
        "source_roots",
        parse_folders,
        variable="sales_source_roots",
        help="folders a local `sales_source` may lie in (comma-separated; symlinks resolved first)",
        default_help="the bundled `data/` folder and the download folder",
    ),
    Setting(
        "download_timeout",
        float_between(1, 86_400),
        variable="sales_download_timeout",
        default="600",
        help="seconds a URL download may take in all",
    ),
    Setting(
        "download_max_mb",
        int_between(1, 1_000_000),
        variable="sales_download_max_mb",
        default="2048",
        help="largest export a URL download may bring, in MB",
    ),
    Setting(
        "as_of_date",
        parse_date,
        param="as_of_date",
        help="compute RFM as of this date (YYYY-MM-DD)",
        default_help="the run's logical date",
        param_title="As-of date",
        param_type=("null", "string"),
        param_extra={"format": "date"},
        param_description="Compute RFM as of this date (YYYY-MM-DD). Empty: the run's logical date.",
    ),
    Setting(
        "rfm_order_statuses",
        parse_statuses,
        variable="rfm_order_statuses",
        default="Shipped,Resolved",
        help="statuses that count as orders for RFM",
    ),
    Setting(
        "rfm_lookback_days",
        int_between(0, 36500),
        variable="rfm_lookback_days",
        default="0",
        help="window before the as-of date, `0` = all history",
    ),
    Setting(
        "rfm_recency_reference",
        one_of(RECENCY_REFERENCES),
        variable="rfm_recency_reference",
        default="last_order",
        help="`last_order` (days to the latest qualifying order) or `as_of`",
    ),
    Setting(
        "rfm_n_clusters",
        int_between(2, 12),
        variable="rfm_n_clusters",
        param="n_clusters",
        default="3",
        help="number of segments, 2–12",
        param_title="Number of segments",
        param_type=("null", "integer"),
        param_extra={"minimum": 2, "maximum": 12},
        param_description="Empty: Variable rfm_n_clusters (default 3).",
    ),
    Setting(
        "rfm_metric",
        one_of(METRICS),
        variable="rfm_metric",
        default="euclidean",
        help="`euclidean`, `manhattan` or `cosine`",
    ),
    Setting(
        "rfm_model_selection",
        parse_bool,
        variable="rfm_model_selection",
        param="model_selection",
        default="false",
        help="compare models over k, metric and init, and use the best",
        param_title="Model selection",
        param_type=("null", "boolean"),
        param_description="Compare K-Means/PAM over k, metric and init and record the table; the best "
        "model's k, metric and init then replace the number of segments. Empty: "
        "Variable rfm_model_selection (default off).",
    ),
    Setting(
        "rfm_random_state",
        int_between(0, 2**31 - 1),
        variable="rfm_random_state",
        default="0",
        help="seed of every random choice of the segmentation",
    ),
    Setting(
        "reports_dir",
        folder_under_home("reports"),
        variable="rfm_reports_dir",
        help="where reports are written",
        default_help="`$AIRFLOW_HOME/reports`",
    ),
    Setting(
        "geocode_enabled",
        parse_bool,
        variable="geocode_enabled",
        param="geocoding",
        default="true",
        help="geocoding on/off",
        param_title="Geocode addresses",
        param_type=("null", "boolean"),
        param_description="Call the ArcGIS geocoder (connection arcgis_geocoding) for new or changed "
        "addresses. Empty: Variable geocode_enabled (default on). Skipped when the "
        "connection is not configured.",
    ),
    Setting(
        "geocode_min_score",
        float_between(0, 100),
        variable="geocode_min_score",
        default="80",
        help="match score at or above which a geocoded address replaces ours",
    ),
    Setting(
        "geocode_max_requests",
        int_between(0, 10_000_000),
        variable="geocode_max_requests",
        default="200",
        help="HTTP requests per run to the geocoder, retries included",
    ),
    Setting(
        "geocode_requests_per_second",
        float_between(0.01, 1000),
        variable="geocode_requests_per_second",
        default="5",
        help="request rate to the geocoder",
    ),
)
SETTING_BY_FIELD: dict[str, Setting] = {s.field: s for s in SETTINGS}


@dataclass(frozen=True)
class PipelineConfig:
    """The settings of one task, typed (see :data:`SETTINGS` for each one's meaning)."""

    sales_source: str | None = None
    sales_source_encoding: str = "auto"
    download_dir: Path = field(default_factory=lambda: _airflow_home() / "sales_downloads")
    source_roots: tuple[Path, ...] | None = None
    download_timeout: float = 600.0
    download_max_mb: int = 2048
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


def _variable_getter() -> Callable[[str, str | None], str | None]:
    from airflow.sdk import Variable

    def get(key: str, default: str | None) -> str | None:
        return Variable.get(key, default=default)

    return get


def load_config(
    params: Mapping[str, Any] | None = None,
    get_variable: Callable[[str, str | None], str | None] | None = None,
) -> PipelineConfig:
    """Build the configuration from Params (``params``) over Variables over defaults."""
    params = dict(params or {})
    get = get_variable or _variable_getter()
    values: dict[str, Any] = {}
    for s in SETTINGS:
        raw = params.get(s.param) if s.param else None
        if (raw is None or raw == "") and s.variable:
            raw = get(s.variable, s.default)
        values[s.field] = s.parse(s.label, raw if raw is not None else s.default)
    return PipelineConfig(**values)


def dag_params() -> dict[str, Any]:
    """The DAG's Params (trigger form), one per setting that has one; each empty by default."""
    from airflow.sdk import Param

    return {
        s.param: Param(
            None,
            type=list(s.param_type),
            title=s.param_title,
            description=s.param_description,
            **s.param_extra,
        )
        for s in SETTINGS
        if s.param
    }


def settings_markdown() -> str:
    """The README's table of Variables and Params."""
    lines = ["| Variable | Param | meaning (default) |", "| --- | --- | --- |"]
    for s in SETTINGS:
        default = s.default_help or (f"`{s.default}`" if s.default is not None else "none")
        var = f"`{s.variable}`" if s.variable else "–"
        param = f"`{s.param}`" if s.param else "–"
        lines.append(f"| {var} | {param} | {s.help} ({default}) |")
    return "\n".join(lines)


assert {s.field for s in SETTINGS} == {f.name for f in fields(PipelineConfig)}, (
    "SETTINGS and PipelineConfig differ"
)

if __name__ == "__main__":  # python -m vehicle_sales.common.config: print the README table
    print(settings_markdown())
