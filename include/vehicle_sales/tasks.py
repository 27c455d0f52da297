"""Task bodies of the ``vehicle_sales_rfm`` DAG, one function per task id, in the pipeline's order.

Each reads the configuration, opens an attributed connection, calls its stage's module, logs one
``<task> summary: k=v, ...`` line and returns a small XCom. The DAG file imports this module only;
heavy imports (pandas, scikit-learn, phonenumbers, requests) happen inside the functions, so the
DAG parses fast.

    task id              code                                       SQL
    validate_config      common/config.py                           -
    create_schema        (SQLExecuteQueryOperator)                  sql/schema/create_schema.sql
    download_raw         ingest/download.py                         sql/ingest/register_file.sql
    stage_raw            ingest/encoding.py, rows.py, staging.py    sql/ingest/stage_*.sql
    load_reference_data  ingest/reference.py                        sql/ingest/reference_*.sql
    refresh_core         (SQLExecuteQueryOperator)                  sql/ingest/refresh_core.sql, refresh/
    validate_phones      contact/phones.py                          sql/contact/phones_*.sql
    geocode_addresses    contact/geocoding.py, arcgis/              sql/contact/geocode_*.sql
    compute_rfm          segments/rfm.py                            sql/segments/start_run.sql, compute_rfm.sql
    fit_segments         segments/fit.py (kmedoids, metrics, ...)   -
    check_quality        common/quality.py                          sql/checks/quality_gates.sql
    load_segments        segments/publish.py                        sql/segments/load_segments.sql
    report               segments/report.py                         sql/segments/report_*.sql
"""

from __future__ import annotations

import functools
import logging
import socket
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from vehicle_sales.common.config import PipelineConfig, dag_params, load_config
from vehicle_sales.common.db import Actor, connect
from vehicle_sales.common.errors import PermanentError, SourceNotFoundError
from vehicle_sales.common.sql import MACROS as SQL_MACROS
from vehicle_sales.common.sql import SQL_DIR

__all__ = [
    "SQL_DIR",
    "SQL_MACROS",
    "dag_params",
    "validate_config",
    "download_raw",
    "stage_raw",
    "load_reference_data",
    "validate_phones",
    "geocode_addresses",
    "compute_rfm",
    "fit_segments",
    "check_quality",
    "load_segments",
    "report",
]

log = logging.getLogger("vehicle_sales")
F = TypeVar("F", bound=Callable[..., Any])
GEOCODING_CONN_ID = "arcgis_geocoding"


# --- shared by the task bodies -----------------------------------------------------------------
def describe(exc: BaseException) -> str:
    """An exception's message, never empty: its text, else a database error's primary message and
    context, else its type."""
    text = str(exc).strip()
    diag = getattr(exc, "diag", None)
    if not text and diag is not None:
        text = "; ".join(x for x in (diag.message_primary, diag.message_detail, diag.context) if x)
    return text or f"{type(exc).__name__} (without a message)"


def fail_fast(fn: F) -> F:
    """A permanent problem (bad config, missing file, bad credentials, a value the warehouse refuses)
    fails without retries; every failure carries a message saying what went wrong."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import psycopg

        try:
            return fn(*args, **kwargs)
        except PermanentError as exc:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(describe(exc)) from None
        except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as exc:
            from airflow.sdk.exceptions import AirflowFailException

            # the same data would fail the same way on every retry
            raise AirflowFailException(
                f"{fn.__name__}: the warehouse refused a value ({type(exc).__name__}): {describe(exc)}"
            ) from exc
        except Exception as exc:
            if not str(exc).strip():  # retried as before, but never with an empty message
                raise RuntimeError(f"{fn.__name__} failed: {describe(exc)}") from exc
            raise

    return wrapper  # type: ignore[return-value]


def _context() -> dict[str, Any]:
    from airflow.sdk import get_current_context

    return get_current_context()


def _config(context: dict[str, Any]) -> PipelineConfig:
    return load_config(context.get("params") or {})


def _connect(context: dict[str, Any]):
    return connect(actor=Actor.from_context(context))


def _num(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def summary(step: str, text: str | None = None, **items: Any) -> str:
    """The last log line of a task: ``step summary: k=v, k=v`` (``text`` first, then ``items``)."""
    text = ", ".join(filter(None, [text, ", ".join(f"{k}={v}" for k, v in items.items())]))
    log.info("%s summary: %s", step, text)
    return text


def _skip(step: str, reason: str) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    summary(step, skipped=reason)
    raise AirflowSkipException(reason)


def as_of_date(context: dict[str, Any], cfg: PipelineConfig) -> date:
    """The run's point in time: the as_of_date Param, else the logical date, else run_after."""
    if cfg.as_of_date:
        return cfg.as_of_date
    logical = context.get("logical_date")
    if logical is not None:
        return logical.date()
    return context["dag_run"].run_after.date()


# --- the tasks, in the pipeline's order --------------------------------------------------------
@fail_fast
def validate_config() -> dict[str, Any]:
    """Fail before anything is written when a Param or Variable is invalid (common/config.py)."""
    from vehicle_sales.ingest.download import parse_source

    context = _context()
    cfg = _config(context)
    spec = parse_source(cfg.sales_source)
    day = as_of_date(context, cfg)
    summary(
        "validate_config",
        source=spec.display,
        encoding=cfg.sales_source_encoding,
        as_of_date=day,
        n_clusters=cfg.rfm_n_clusters,
        metric=cfg.rfm_metric,
        model_selection=cfg.rfm_model_selection,
        geocoding=cfg.geocode_enabled,
    )
    return {"source_kind": spec.kind, "as_of_date": day.isoformat()}


@fail_fast
def download_raw() -> dict[str, Any]:
    """Fetch the export, fingerprint it and register it in source_files (ingest/download.py)."""
    from vehicle_sales.ingest import download

    context = _context()
    cfg = _config(context)
    spec = download.parse_source(cfg.sales_source)
    fetched = download.fetch(spec, cfg.download_dir, *_source_limits(cfg))
    rows = fetched.lines
    with _connect(context) as conn:
        reg = download.register(conn, fetched, rows, context["dag_run"].run_id)
    if reg.already_staged:
        log.info(
            "file %s (sha256 %s) was already ingested as file_id %s at %s: nothing new to stage",
            spec.display,
            fetched.sha256[:12],
            reg.file_id,
            reg.staged_at,
        )
    summary(
        "download_raw",
        source=spec.display,
        kind=spec.kind,
        sha256=fetched.sha256,
        size_bytes=fetched.size_bytes,
        rows=rows,
        file_id=reg.file_id,
        already_ingested=reg.already_staged,
    )
    return {
        "file_id": reg.file_id,
        "path": str(fetched.path),
        "sha256": fetched.sha256,
        "row_count": rows,
        "already_staged": reg.already_staged,
        "source": spec.display,
    }


def _source_limits(cfg: PipelineConfig):
    """(allowed roots of a local source, download limits) of the configuration."""
    from vehicle_sales.ingest import download

    roots = download.allowed_roots(cfg.download_dir, cfg.source_roots)
    return roots, download.Limits(cfg.download_timeout, cfg.download_max_mb << 20)


def _nothing_staged(file_id: int, why: str) -> dict[str, Any]:
    """stage_raw's summary and result when the file is already ingested."""
    summary("stage_raw", file_id=file_id, skipped=why, read=0, loaded=0, duplicate=0, rejected=0)
    return {"file_id": file_id, "read": 0, "loaded": 0, "duplicate": 0, "rejected": 0}


def _stage_fingerprinted(context, cfg: PipelineConfig, spec, fetched: dict[str, Any]):
    """The file download_raw fingerprinted, staged: (encoding choice, counts). Its sha256 is checked
    while PostgreSQL finishes the staging (staging.stage_file), not in a pass of its own before.
    Where the file is not on this worker (a Celery worker other than download_raw's), or is not that
    file any more, it is fetched again from the source and checked (download.fetch_again)."""
    from vehicle_sales.ingest import download, encoding, staging

    def stage(path: Path):
        choice = encoding.choose_encoding(path, cfg.sales_source_encoding)
        log.info("encoding of %s: %s", fetched["source"], choice)
        with _connect(context) as conn:
            return choice, staging.stage_file(
                conn, path, fetched["file_id"], choice.codec, mixed=choice.mixed, sha256=fetched["sha256"]
            )

    path = Path(fetched["path"])
    if path.is_file():
        try:
            return stage(path)
        except staging.ContentChanged as exc:  # (its hash is known: not compared again)
            log.warning("%s is not the file download_raw fingerprinted (%s): fetching it again", path, exc)
    path = download.fetch_again(spec, cfg.download_dir, fetched["sha256"], *_source_limits(cfg))
    log.info(
        "%s was not on this worker (%s): fetched it again from %s, same sha256 %s",
        fetched["path"],
        socket.gethostname(),
        spec.display,
        fetched["sha256"][:12],
    )
    return stage(path)


@fail_fast
def stage_raw(fetched: dict[str, Any]) -> dict[str, Any]:
    """Detect the encoding, then stage every record (ingest/encoding.py, ingest/staging.py)."""
    from vehicle_sales.ingest import download, staging

    context = _context()
    cfg = _config(context)
    file_id = fetched["file_id"]
    if fetched["already_staged"]:
        return _nothing_staged(file_id, "file already ingested")
    spec = download.parse_source(cfg.sales_source)
    if spec.display != fetched["source"]:
        raise SourceNotFoundError(
            f"sales_source changed since download_raw ({fetched['source']!r} then, {spec.display!r} now): "
            "clear download_raw to start over"
        )
    try:
        choice, counts = _stage_fingerprinted(context, cfg, spec, fetched)
    except staging.AlreadyStaged as done:  # a run racing on the same export got there first
        log.info("%s: nothing new to stage", done)
        return _nothing_staged(file_id, "file already ingested (by a concurrent run)")
    if counts.reasons:
        log.info("rejects by reason: %s", dict(counts.reasons.most_common()))
    if choice.mixed:
        log.warning(
            "%s is %s with UTF-8 lines mixed in: %d lines were valid UTF-8 and decoded as UTF-8, the"
            " others as %s",
            fetched["source"],
            choice.codec,
            counts.utf8_lines,
            choice.codec,
        )
    summary(
        "stage_raw",
        file_id=file_id,
        encoding=choice.codec,
        blank_lines=counts.blank_lines,
        counts=counts.summary(),
    )
    return {
        "file_id": file_id,
        "encoding": choice.codec,
        "read": counts.read,
        "loaded": counts.loaded,
        "duplicate": counts.duplicate,
        "rejected": counts.rejected,
    }


def load_reference_data() -> dict[str, int]:
    """ISO 3166 countries and aliases (ingest/reference.py)."""
    from dataclasses import asdict

    from vehicle_sales.ingest import reference

    with _connect(_context()) as conn:
        counts = reference.load_reference_data(conn)
    summary("load_reference_data", counts.summary())
    return asdict(counts)


def validate_phones() -> dict[str, Any]:
    """Validate new or changed customers' phones (contact/phones.py)."""
    from vehicle_sales.contact import phones

    context = _context()
    actor = Actor.from_context(context)
    with connect(actor=actor) as conn:
        counts = phones.validate_phones(conn, actor=actor)
    summary("validate_phones", counts.summary())
    return {
        "candidates": counts.candidates,
        "validated": counts.validated,
        "valid": counts.valid,
        "invalid": counts.invalid,
    }


@fail_fast
def geocode_addresses() -> dict[str, Any]:
    """Geocode pending addresses with ArcGIS (contact/geocoding.py, contact/arcgis/); skipped, with
    the reason in the log, when turned off or when the connection is not configured."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    from vehicle_sales.contact import geocoding
    from vehicle_sales.contact.arcgis.hook import ArcGISGeocodingHook

    context = _context()
    cfg = _config(context)
    if not cfg.geocode_enabled:
        _skip(
            "geocode_addresses",
            "geocoding is turned off (Param geocoding / Variable geocode_enabled); addresses stay pending",
        )
    try:
        BaseHook.get_connection(GEOCODING_CONN_ID)
    except AirflowNotFoundException:
        _skip(
            "geocode_addresses",
            f"no Airflow connection '{GEOCODING_CONN_ID}': addresses stay pending. Add it "
            "(host = the GeocodeServer URL, password = the ArcGIS API key) to geocode them",
        )
    hook = ArcGISGeocodingHook(
        arcgis_conn_id=GEOCODING_CONN_ID, requests_per_second=cfg.geocode_requests_per_second
    )
    actor = Actor.from_context(context)
    try:
        with connect(actor=actor) as conn:
            counts = geocoding.geocode_addresses(
                conn,
                hook,
                min_score=cfg.geocode_min_score,
                max_requests=cfg.geocode_max_requests,
                actor=actor,
            )
    finally:
        hook.close()
    summary(
        "geocode_addresses",
        counts.summary(),
        min_score=cfg.geocode_min_score,
        max_requests=cfg.geocode_max_requests,
    )
    return counts.as_dict()


@fail_fast
def compute_rfm() -> dict[str, Any]:
    """RFM per customer as of the run's date, in SQL (segments/rfm.py)."""
    from vehicle_sales.segments import rfm

    context = _context()
    cfg = _config(context)
    settings = rfm.RfmSettings(
        as_of_date(context, cfg), cfg.rfm_order_statuses, cfg.rfm_lookback_days, cfg.rfm_recency_reference
    )
    with _connect(context) as conn:
        run_id = rfm.start_run(conn, settings, context["dag"].dag_id, context["dag_run"].run_id)
        n = rfm.compute_snapshot(conn, run_id, settings)
        reason = None if n else rfm.no_orders_reason(settings)
        if reason:
            rfm.mark_run(conn, run_id, "skipped", {"reason": reason})
        conn.commit()
    summary(
        "compute_rfm",
        rfm_run_id=run_id,
        as_of_date=settings.as_of,
        customers=n,
        statuses="|".join(settings.statuses),
        lookback_days=settings.lookback_days,
        recency_reference=settings.recency_reference,
        skipped=reason or "no",
    )
    if reason:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(reason)
    return {"rfm_run_id": run_id, "n_customers": n, "as_of_date": settings.as_of.isoformat()}


@fail_fast
def fit_segments(computed: dict[str, Any]) -> dict[str, Any]:
    """Choose the model, fit K-Medoids, score and name the segments, save the fit (segments/fit.py)."""
    from vehicle_sales.segments import fit, publish, rfm

    context = _context()
    cfg = _config(context)
    run_id = computed["rfm_run_id"]
    with _connect(context) as conn:
        snapshot = rfm.load_snapshot(conn, run_id)
    choice = fit.choose_model_for(
        snapshot, cfg.rfm_n_clusters, cfg.rfm_metric, cfg.rfm_model_selection, cfg.rfm_random_state
    )
    if choice.table is not None:
        log.info(
            "model selection over %d combinations (on %d customers), chosen: k=%d metric=%s init=%s\n%s",
            len(choice.table),
            choice.sample_size,
            choice.n_clusters,
            choice.metric,
            choice.init,
            choice.table.to_string(index=False),
        )
    if len(snapshot) < choice.n_clusters:
        with _connect(context) as conn:
            rfm.mark_run(
                conn,
                run_id,
                "skipped",
                {"reason": f"{len(snapshot)} customers < {choice.n_clusters} segments"},
            )
            conn.commit()
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(
            f"only {len(snapshot)} customers with qualifying orders: fewer than the "
            f"{choice.n_clusters} segments asked for (Param n_clusters / Variable "
            "rfm_n_clusters)"
        )
    result = fit.fit_segments(
        snapshot,
        n_clusters=choice.n_clusters,
        metric=choice.metric,
        random_state=cfg.rfm_random_state,
        init=choice.init,
    )
    payload = publish.fit_payload(result, choice.selection_rows)
    with _connect(context) as conn:
        publish.save_fit(conn, run_id, snapshot["customer_id"], result, payload)
    summary(
        "fit_segments",
        rfm_run_id=run_id,
        customers=len(snapshot),
        k=choice.n_clusters,
        metric=choice.metric,
        algorithm=result.algorithm,
        silhouette=_num(result.silhouette, 3),
        calinski_harabasz=_num(result.calinski_harabasz, 1),
        davies_bouldin=_num(result.davies_bouldin, 3),
        loss=_num(result.loss, 3),
        fit_seconds=_num(result.fit_seconds, 2),
        segments="|".join(s["label"] for s in payload["segments"]),
    )
    return {"rfm_run_id": run_id, "n_clusters": choice.n_clusters}


@fail_fast
def check_quality(fitted: dict[str, Any]) -> dict[str, Any]:
    """The data-quality gates before publishing (sql/checks/quality_gates.sql): every file accounted
    for, no order line without its keys, order or customer, every snapshot customer assigned once,
    segment sizes summing to the snapshot. A failing gate fails the task (no retry) with its detail."""
    from vehicle_sales.common.quality import QualityGateError, gate_failures

    with _connect(_context()) as conn:
        n, failed = gate_failures(conn, fitted["rfm_run_id"])
    summary("check_quality", rfm_run_id=fitted["rfm_run_id"], gates=n, failed=len(failed))
    if failed:
        raise QualityGateError("data-quality gates failed, nothing published: " + "; ".join(failed))
    return fitted


@fail_fast
def load_segments(fitted: dict[str, Any]) -> dict[str, Any]:
    """Publish the run's segments in one transaction (segments/publish.py)."""
    from vehicle_sales.segments import publish

    with _connect(_context()) as conn:
        counts = publish.publish(conn, fitted["rfm_run_id"])
    summary("load_segments", rfm_run_id=fitted["rfm_run_id"], **counts)
    return {"rfm_run_id": fitted["rfm_run_id"], **counts}


def report(loaded: dict[str, Any]) -> str:
    """The per-segment table in the log, Markdown/HTML with charts in the reports folder
    (segments/report.py)."""
    from vehicle_sales.segments import report as reporting

    context = _context()
    cfg = _config(context)
    with _connect(context) as conn:
        rep = reporting.write_report(conn, loaded["rfm_run_id"], cfg.reports_dir, context["dag_run"].run_id)
    log.info("segments of rfm_run %s:\n%s", loaded["rfm_run_id"], rep.table_text)
    summary(
        "report",
        rfm_run_id=loaded["rfm_run_id"],
        folder=rep.folder,
        markdown=rep.markdown.name,
        html=rep.html.name,
        charts=",".join(p.name for p in rep.charts),
        stored_files=rep.stored_files,
        previous_run_id=rep.previous_run_id if rep.previous_run_id is not None else "none",
        moved_up=rep.moved_up,
        moved_down=rep.moved_down,
    )
    return str(rep.folder)
