"""Task bodies of the ``vehicle_sales_rfm`` DAG: read the configuration, open an attributed
connection, call the step's module, log a one-paragraph summary, return a small XCom.

Kept out of the DAG file so it parses fast; heavy imports happen inside the functions.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from vehicle_sales.common.config import PipelineConfig, load_config
from vehicle_sales.common.db import Actor, connect
from vehicle_sales.common.errors import PermanentError

log = logging.getLogger("vehicle_sales")
F = TypeVar("F", bound=Callable[..., Any])


def fail_fast(fn: F) -> F:
    """A permanent problem (bad config, missing file, bad credentials) fails without retries."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PermanentError as exc:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def _context() -> dict[str, Any]:
    from airflow.sdk import get_current_context

    return get_current_context()


def _config(context: dict[str, Any]) -> PipelineConfig:
    return load_config(context.get("params") or {})


def _num(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def summary(step: str, **items: Any) -> str:
    """The last log line of a task: ``step summary: k=v, k=v``."""
    text = ", ".join(f"{k}={v}" for k, v in items.items())
    log.info("%s summary: %s", step, text)
    return text


@fail_fast
def validate_config() -> dict[str, Any]:
    """Fail before anything is written when a Param or Variable is invalid."""
    context = _context()
    cfg = _config(context)
    from vehicle_sales.ingest.download import parse_source

    spec = parse_source(cfg.sales_source)
    summary("validate_config", source=spec.display, encoding=cfg.sales_source_encoding,
            as_of_date=as_of_date(context, cfg), n_clusters=cfg.rfm_n_clusters, metric=cfg.rfm_metric,
            model_selection=cfg.rfm_model_selection, geocoding=cfg.geocode_enabled)
    return {"source_kind": spec.kind, "as_of_date": as_of_date(context, cfg).isoformat()}


def as_of_date(context: dict[str, Any], cfg: PipelineConfig):
    """The run's point in time: the as_of_date Param, else the logical date, else run_after."""
    if cfg.as_of_date:
        return cfg.as_of_date
    logical = context.get("logical_date")
    if logical is not None:
        return logical.date()
    dag_run = context.get("dag_run")
    return dag_run.run_after.date()


@fail_fast
def download_raw() -> dict[str, Any]:
    from vehicle_sales.ingest import download

    context = _context()
    cfg = _config(context)
    spec = download.parse_source(cfg.sales_source)
    fetched = download.fetch(spec, cfg.download_dir)
    rows = download.count_records(fetched.path)
    with connect(actor=Actor.from_context(context)) as conn:
        reg = download.register(conn, fetched, rows, context["dag_run"].run_id)
    if reg.already_staged:
        log.info("file %s (sha256 %s) was already ingested as file_id %s at %s: nothing new to stage",
                 spec.display, fetched.sha256[:12], reg.file_id, reg.staged_at)
    summary("download_raw", source=spec.display, kind=spec.kind, sha256=fetched.sha256,
            size_bytes=fetched.size_bytes, rows=rows, file_id=reg.file_id, already_ingested=reg.already_staged)
    return {"file_id": reg.file_id, "path": str(fetched.path), "sha256": fetched.sha256,
            "row_count": rows, "already_staged": reg.already_staged, "source": spec.display}


@fail_fast
def stage_raw(fetched: dict[str, Any]) -> dict[str, Any]:
    from vehicle_sales.common.errors import SourceNotFoundError
    from vehicle_sales.ingest import download, encoding, staging

    context = _context()
    cfg = _config(context)
    if fetched["already_staged"]:
        summary("stage_raw", file_id=fetched["file_id"], skipped="file already ingested", read=0, loaded=0,
                duplicate=0, rejected=0)
        return {"file_id": fetched["file_id"], "read": 0, "loaded": 0, "duplicate": 0, "rejected": 0}
    path = Path(fetched["path"])
    if not path.is_file() or download.sha256_of(path)[0] != fetched["sha256"]:
        raise SourceNotFoundError(f"downloaded file {path} is missing or changed since download_raw: "
                                  "clear download_raw to fetch it again")
    choice = encoding.choose_encoding(path, cfg.sales_source_encoding)
    log.info("encoding of %s: %s", fetched["source"], choice)
    with connect(actor=Actor.from_context(context)) as conn:
        counts = staging.stage_file(conn, path, fetched["file_id"], choice.codec)
    if counts.reasons:
        log.info("rejects by reason: %s", dict(counts.reasons.most_common()))
    summary("stage_raw", file_id=fetched["file_id"], encoding=choice.codec, blank_lines=counts.blank_lines,
            counts=counts.summary())
    return {"file_id": fetched["file_id"], "encoding": choice.codec, "read": counts.read,
            "loaded": counts.loaded, "duplicate": counts.duplicate, "rejected": counts.rejected}


def load_reference_data() -> dict[str, int]:
    from vehicle_sales.ingest import reference

    context = _context()
    with connect(actor=Actor.from_context(context)) as conn:
        counts = reference.load_reference_data(conn)
    summary("load_reference_data", **counts)
    return counts


def validate_phones() -> dict[str, Any]:
    """Validate new or changed customers' phones; batches of one UPDATE each, one transaction each."""
    from vehicle_sales.contact import phones

    context = _context()
    actor = Actor.from_context(context)
    with connect(actor=actor) as conn:
        counts = phones.validate_phones(conn, actor=actor)
    by_reason = counts.get("by_reason") or {}
    summary("validate_phones", candidates=counts["candidates"], validated=counts["validated"],
            valid=counts["valid"], invalid=counts["invalid"],
            by_reason="|".join(f"{k}:{v}" for k, v in sorted(by_reason.items())) or "none",
            batches=counts["batches"], changed_meanwhile=counts.get("changed_meanwhile", 0),
            watermark=f"{counts['watermark_before']}->{counts['watermark_after']}")
    return {k: counts[k] for k in ("candidates", "validated", "valid", "invalid")}


GEOCODING_CONN_ID = "arcgis_geocoding"


@fail_fast
def geocode_addresses() -> dict[str, Any]:
    """Geocode pending addresses with ArcGIS (cache first, batches, retries); skipped, with the reason
    in the log, when turned off or when the connection is not configured."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException, AirflowSkipException

    from vehicle_sales.contact import geocoding
    from vehicle_sales.contact.arcgis.hook import ArcGISGeocodingHook

    context = _context()
    cfg = _config(context)
    reason = None
    if not cfg.geocode_enabled:
        reason = "geocoding is turned off (Param geocoding / Variable geocode_enabled); addresses stay pending"
    else:
        try:
            BaseHook.get_connection(GEOCODING_CONN_ID)
        except AirflowNotFoundException:
            reason = (f"no Airflow connection '{GEOCODING_CONN_ID}': addresses stay pending. Add it (host = the "
                      "GeocodeServer URL, password = the ArcGIS API key) to geocode them")
    if reason:
        summary("geocode_addresses", skipped=reason)
        raise AirflowSkipException(reason)
    hook = ArcGISGeocodingHook(arcgis_conn_id=GEOCODING_CONN_ID,
                               requests_per_second=cfg.geocode_requests_per_second)
    actor = Actor.from_context(context)
    try:
        with connect(actor=actor) as conn:
            counts = geocoding.geocode_addresses(conn, hook, min_score=cfg.geocode_min_score,
                                                 max_requests=cfg.geocode_max_requests, actor=actor)
    finally:
        hook.close()
    summary("geocode_addresses", **{k: counts[k] for k in (
        "selected", "from_cache", "sent", "requests", "matched", "low_score", "unmatched", "failed", "pending")},
        watermark=counts.get("watermark"), min_score=cfg.geocode_min_score, max_requests=cfg.geocode_max_requests)
    return counts


@fail_fast
def compute_rfm() -> dict[str, Any]:
    from airflow.sdk.exceptions import AirflowSkipException

    from vehicle_sales.segments import rfm

    context = _context()
    cfg = _config(context)
    settings = rfm.RfmSettings(as_of_date(context, cfg), cfg.rfm_order_statuses, cfg.rfm_lookback_days,
                               cfg.rfm_recency_reference)
    with connect(actor=Actor.from_context(context)) as conn:
        run_id = rfm.start_run(conn, settings, context["dag"].dag_id, context["dag_run"].run_id)
        n = rfm.compute_snapshot(conn, run_id, settings)
        reason = None
        if n == 0:
            reason = (f"no qualifying orders (status in {', '.join(settings.statuses)}) dated on or before "
                      f"{settings.as_of}" + (f" within {settings.lookback_days} days" if settings.lookback_days else ""))
            rfm.mark_run(conn, run_id, "skipped", {"reason": reason})
        conn.commit()
    summary("compute_rfm", rfm_run_id=run_id, as_of_date=settings.as_of, customers=n,
            statuses="|".join(settings.statuses), lookback_days=settings.lookback_days,
            recency_reference=settings.recency_reference, skipped=reason or "no")
    if reason:
        raise AirflowSkipException(reason)
    return {"rfm_run_id": run_id, "n_customers": n, "as_of_date": settings.as_of.isoformat()}


SELECTION_SAMPLE = 3000  # model selection fits 55 models: a sample keeps it to seconds at any size


@fail_fast
def fit_segments(computed: dict[str, Any]) -> dict[str, Any]:
    from airflow.sdk.exceptions import AirflowSkipException

    from vehicle_sales.segments import model_selection, rfm, segmentation
    from vehicle_sales.segments import naming as segment_naming
    from vehicle_sales.segments import publish as results

    context = _context()
    cfg = _config(context)
    run_id = computed["rfm_run_id"]
    with connect(actor=Actor.from_context(context)) as conn:
        snapshot = rfm.load_snapshot(conn, run_id)
    k, metric, init = cfg.rfm_n_clusters, cfg.rfm_metric, "k-medoids++"
    selection = None
    if cfg.rfm_model_selection:
        sample = snapshot.sample(min(len(snapshot), SELECTION_SAMPLE), random_state=cfg.rfm_random_state)
        scaled = segmentation.make_preprocessor().fit_transform(sample[["recency_days", "frequency", "monetary"]])
        table = model_selection.evaluate_models(scaled, random_state=cfg.rfm_random_state)
        chosen = model_selection.choose_model(table)
        k, metric, init = int(chosen["k"]), chosen["metric"], chosen["init"]
        table["chosen"] = [(r.algorithm, r.k, r.metric, r.init) == (chosen["algorithm"], chosen["k"],
                            chosen["metric"], chosen["init"]) for r in table.itertuples()]
        selection = table.to_dict("records")
        log.info("model selection over %d combinations (on %d customers), chosen: %s\n%s", len(table),
                 len(sample), chosen, table.to_string(index=False))
    if len(snapshot) < k:
        with connect(actor=Actor.from_context(context)) as conn:
            rfm.mark_run(conn, run_id, "skipped", {"reason": f"{len(snapshot)} customers < {k} segments"})
            conn.commit()
        raise AirflowSkipException(f"only {len(snapshot)} customers with qualifying orders: fewer than the "
                                   f"{k} segments asked for (Param n_clusters / Variable rfm_n_clusters)")
    result = segmentation.fit_segments(snapshot, n_clusters=k, metric=metric,
                                       random_state=cfg.rfm_random_state, init=init)
    customer_ids = [int(c) for c in snapshot["customer_id"]]
    labels = result.names_for()
    medoids = [int(i) for i in result.medoid_indices]
    order = segment_naming.value_order(result.medoid_rfm,
                                       snapshot[["recency_days", "frequency", "monetary"]].to_numpy(float))
    payload = results.fit_payload(result, k, order, selection)
    with connect(actor=Actor.from_context(context)) as conn:
        results.save_fit(conn, run_id, customer_ids, labels, {customer_ids[i] for i in medoids}, payload)
    summary("fit_segments", rfm_run_id=run_id, customers=len(snapshot), k=k, metric=metric,
            algorithm=result.algorithm, silhouette=_num(result.silhouette, 3),
            calinski_harabasz=_num(result.calinski_harabasz, 1), davies_bouldin=_num(result.davies_bouldin, 3),
            loss=_num(result.loss, 3), fit_seconds=_num(result.fit_seconds, 2),
            segments="|".join(s["label"] for s in payload["segments"]))
    return {"rfm_run_id": run_id, "n_clusters": k}


@fail_fast
def load_segments(fitted: dict[str, Any]) -> dict[str, Any]:
    from vehicle_sales.segments import publish as results

    context = _context()
    with connect(actor=Actor.from_context(context)) as conn:
        counts = results.publish(conn, fitted["rfm_run_id"])
    summary("load_segments", rfm_run_id=fitted["rfm_run_id"], **counts)
    return {"rfm_run_id": fitted["rfm_run_id"], **counts}


def report(loaded: dict[str, Any]) -> str:
    from vehicle_sales.segments import report as reporting

    context = _context()
    cfg = _config(context)
    with connect(actor=Actor.from_context(context)) as conn:
        rep = reporting.write_report(conn, loaded["rfm_run_id"], cfg.reports_dir, context["dag_run"].run_id)
    log.info("segments of rfm_run %s:\n%s", loaded["rfm_run_id"], rep.table_text)
    summary("report", rfm_run_id=loaded["rfm_run_id"], folder=rep.folder, markdown=rep.markdown.name,
            html=rep.html.name, charts=",".join(p.name for p in rep.charts))
    return str(rep.folder)
