"""Geocode customer addresses with ArcGIS, at most once per distinct address text.

Entry point: :func:`geocode_addresses` (``conn`` = psycopg 3 connection to the warehouse, ``hook`` =
:class:`vehicle_sales.contact.arcgis.hook.ArcGISGeocodingHook`). Per run:

1. select addresses that need work: status ``pending``/``failed`` (failed ones until ``max_attempts``)
   and any address whose current text no longer normalises to its ``geocode_key`` (edited since);
2. answer what ``geocode_cache`` already knows (across runs and customers: never paid twice);
3. send the remaining distinct texts in batches of the service's advertised size (findAddressCandidates
   one by one when the locator has no batch support), within a per-run request cap;
4. write each batch set-based (COPY into temp tables, ``INSERT .. ON CONFLICT`` into the cache,
   ``UPDATE addresses .. FROM``) in its own transaction, so the audit trigger records every change with
   the run's attribution.

Outcomes per address: ``matched`` (score >= min_score: address fields replaced by the standardised
ones), ``low_score`` (originals kept, candidate stored as JSON), ``unmatched``, ``failed`` (reason in
``geocode_error``, attempts + 1) or still ``pending`` (not attempted: cap reached, malformed response,
bad credentials).
"""

from __future__ import annotations

import json
import logging
import re
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import psycopg

from vehicle_sales.common import sql
from vehicle_sales.common.db import Actor, set_actor, set_watermark
from vehicle_sales.common.locks import Lock, session_lock
from vehicle_sales.contact.arcgis.payloads import GeocodeResult, request_record, single_params

log = logging.getLogger(__name__)

WATERMARK = "addr_geocode"
ADDRESS_FIELDS = ("st_addr", "sub_addr", "city", "region", "postal_code", "country_code")
_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"[,.;]+")


# -- pure functions --------------------------------------------------------------------------------
def _norm_part(value: Any) -> str:
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", str(value)).casefold()
    text = _PUNCT.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def normalise_address_key(street: Any, sub: Any, city: Any, region: Any, postal: Any, country: Any) -> str:
    """The cache key of an address: each part NFKC-normalised, case-folded, with ``, . ;`` and runs of
    whitespace collapsed to one space, joined by ``|``. Two texts that differ only in case, spacing or
    that punctuation are the same address (and are paid for once)."""
    return "|".join(_norm_part(p) for p in (street, sub, city, region, postal, country))


def is_empty_key(key: str) -> bool:
    return not key.replace("|", "").strip()


def classify(score: Any, status: Any, min_score: float) -> str:
    """``matched`` | ``low_score`` | ``unmatched`` for a service result.

    ``U`` (or no status and no score) is unmatched. ``M`` with ``score >= min_score`` is matched. A tie
    (``T``: several equally good candidates) is never trusted to overwrite an address: low_score."""
    status = str(status).strip().upper() if status is not None else ""
    try:
        s = float(score) if score is not None else None
    except (TypeError, ValueError):
        s = None
    if status == "U" or (status not in ("M", "T") and not s):
        return "unmatched"
    if status == "T":
        return "low_score"
    return "matched" if s is not None and s >= min_score else "low_score"


def map_country(
    code: Any, alpha3_known: Iterable[str] | None = None, alpha2_to_alpha3: dict[str, str] | None = None
) -> str | None:
    """The service's country code (ISO 3166 alpha-3; alpha-2 accepted too) as our ``country_code``
    (alpha-3, a key of ``iso_country_codes``); None when unknown."""
    if code is None:
        return None
    c = str(code).strip().upper()
    if len(c) == 3 and (alpha3_known is None or c in alpha3_known):
        return c
    if len(c) == 2 and alpha2_to_alpha3:
        return alpha2_to_alpha3.get(c)
    return None


def standardised_fields(
    original: Sequence[Any],
    attrs: dict[str, Any],
    alpha3_known: Iterable[str] | None = None,
    alpha2_to_alpha3: dict[str, str] | None = None,
) -> tuple[Any, ...]:
    """Our address fields (st_addr, sub_addr, city, region, postal_code, country_code) from a match's
    attributes. A field the service leaves empty keeps its original value; the region prefers the
    abbreviation (our data says ``CA``, not ``California``); an unknown country code keeps ours."""

    def pick(*names: str) -> str | None:
        for n in names:
            v = attrs.get(n)
            if v is not None and str(v).strip():
                return str(v).strip()
        return None

    st, sub, city, region, postal, country = original
    return (
        pick("StAddr") or st,
        pick("SubAddr") or sub,
        pick("City") or city,
        pick("RegionAbbr", "Region") or region,
        pick("Postal") or postal,
        map_country(attrs.get("CountryCode"), alpha3_known, alpha2_to_alpha3) or country,
    )


# -- the database side: counts, then the phases of a run -----------------------------------------
OUTCOMES = ("matched", "low_score", "unmatched", "failed")


@dataclass
class GeocodeCounts:
    """What one geocode_addresses run did; every selected address ends in an outcome or pending."""

    selected: int = 0  # addresses that needed work
    distinct_texts: int = 0  # their distinct normalised texts (what is paid for)
    from_cache: int = 0
    sent: int = 0  # texts the service answered this run
    requests: int = 0  # HTTP requests made (service info and retries included)
    matched: int = 0
    low_score: int = 0
    unmatched: int = 0
    failed: int = 0
    malformed_batches: int = 0
    changed_meanwhile: int = 0  # edited between read and write: left for the next run
    stopped: str | None = None  # why the run stopped sending early (request cap, service down)
    watermark: int | None = None
    seconds: float = 0.0

    @property
    def pending(self) -> int:
        return self.selected - sum(getattr(self, o) for o in OUTCOMES)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "pending": self.pending}

    def summary(self) -> str:
        items = self.as_dict()
        items["stopped"] = self.stopped or "no"
        order = (
            "selected",
            "distinct_texts",
            "from_cache",
            "sent",
            "requests",
            *OUTCOMES,
            "pending",
            "malformed_batches",
            "changed_meanwhile",
            "stopped",
            "watermark",
            "seconds",
        )
        return ", ".join(f"{k}={items[k]}" for k in order)


@dataclass
class _Address:
    address_id: int
    fields: tuple[Any, ...]
    key: str
    old_key: str | None
    status: str
    attempts: int


_UPD_COLUMNS = (
    "address_id",
    "o_st",
    "o_sub",
    "o_city",
    "o_region",
    "o_postal",
    "o_country",
    "outcome",
    "geocode_key",
    "sent",
    "score",
    "match_addr",
    "lon",
    "lat",
    "n_st",
    "n_sub",
    "n_city",
    "n_region",
    "n_postal",
    "n_country",
    "candidate",
    "error",
)


@dataclass
class _Writer:
    """Turns results into address updates and writes them, one transaction per call."""

    conn: psycopg.Connection
    min_score: float
    alpha3: set[str]
    alpha2: dict[str, str]
    counts: GeocodeCounts

    def row_for(
        self,
        a: _Address,
        result: GeocodeResult | None,
        *,
        sent: bool,
        error: str | None = None,
        outcome: str | None = None,
    ) -> tuple[Any, ...]:
        """The _geo_upd row for address ``a``: its outcome and new fields (None result: failed)."""
        if result is None:
            outcome = outcome or "failed"
            new, score, match, lon, lat, cand = a.fields, None, None, None, None, None
        else:
            outcome = outcome or classify(result.score, result.status, self.min_score)
            new = a.fields
            cand = None
            if outcome == "matched":
                new = standardised_fields(a.fields, result.attributes, self.alpha3, self.alpha2)
            elif outcome == "low_score":
                cand = json.dumps(result.candidate_json())
            score, match, lon, lat = result.score, result.match_addr, result.longitude, result.latitude
        # the key is that of the text the row will carry, so an edit is noticed and a standardised
        # address is not sent again
        key = normalise_address_key(*new) if outcome != "failed" else a.key
        return (a.address_id, *a.fields, outcome, key, sent, score, match, lon, lat, *new, cand, error)

    def write(self, rows: list[tuple[Any, ...]], cache: list[tuple[Any, ...]] = ()) -> int:
        """One transaction: cache entries first, then the address updates. Returns rows updated."""
        if not rows and not cache:
            return 0
        applied: list[str] = []
        try:
            sql.run(self.conn, "contact/geocode_temp.sql")
            with self.conn.cursor() as cur:
                if cache:
                    with cur.copy(
                        "COPY _geo_cache (geocode_key, status, score, match_addr, lon, lat, attributes)"
                        " FROM STDIN"
                    ) as cp:
                        for r in cache:
                            cp.write_row(r)
                    sql.run(self.conn, "contact/geocode_cache_insert.sql")
                if rows:
                    with cur.copy(f"COPY _geo_upd ({', '.join(_UPD_COLUMNS)}) FROM STDIN") as cp:
                        for r in rows:
                            cp.write_row(r)
                    applied = [r[0] for r in sql.run(self.conn, "contact/geocode_apply.sql").fetchall()]
            self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise
        for outcome in applied:
            setattr(self.counts, outcome, getattr(self.counts, outcome) + 1)
        self.counts.changed_meanwhile += len(rows) - len(applied)
        return len(applied)

    def fail(self, addresses: Iterable[_Address], error: str) -> None:
        """Record a failed attempt (reason kept, attempts + 1) for ``addresses``."""
        self.write([self.row_for(a, None, sent=True, error=error[:500]) for a in addresses])


def _cache_row(key: str, r: GeocodeResult) -> tuple[Any, ...]:
    return (key, r.status, r.score, r.match_addr, r.longitude, r.latitude, json.dumps(r.attributes))


def select_work(conn: psycopg.Connection, max_attempts: int) -> dict[str, list[_Address]]:
    """Phase "select": the addresses that need work, grouped by normalised text (committed read).

    Pending ones; failed ones until ``max_attempts``; any address whose current text no longer
    normalises to its geocode_key (edited since, failed or not)."""
    by_key: dict[str, list[_Address]] = {}
    for aid, st, sub, city, region, postal, country, status, old_key, attempts in sql.run(
        conn, "contact/geocode_select.sql"
    ).fetchall():
        fields = (st, sub, city, region, postal, country.strip() if isinstance(country, str) else country)
        key = normalise_address_key(*fields)
        changed = old_key != key
        if (
            status == "pending"
            or (status == "failed" and (attempts < max_attempts or changed))
            or (status != "failed" and changed)
        ):
            by_key.setdefault(key, []).append(_Address(aid, fields, key, old_key, status, attempts))
    conn.commit()
    return by_key


def settle_empty(writer: _Writer, by_key: dict[str, list[_Address]]) -> None:
    """Phase "settle empty": an address without any text is unmatched, nothing to send."""
    empty = [k for k in by_key if is_empty_key(k)]
    if empty:
        writer.write(
            [
                writer.row_for(
                    a, GeocodeResult.unmatched(), sent=False, error="address is empty", outcome="unmatched"
                )
                for k in empty
                for a in by_key.pop(k)
            ]
        )


def answer_from_cache(
    conn: psycopg.Connection, writer: _Writer, by_key: dict[str, list[_Address]], chunk: int
) -> None:
    """Phase "answer from cache": texts geocode_cache knows are settled without a request, in chunks
    of ``chunk`` keys (one transaction each); they leave ``by_key``."""
    keys = list(by_key)
    for i in range(0, len(keys), chunk):
        hits = conn.execute(
            "SELECT geocode_key, status, score, match_addr, longitude, latitude, attributes"
            " FROM geocode_cache WHERE geocode_key = ANY(%s)",
            (keys[i : i + chunk],),
        ).fetchall()
        conn.commit()
        rows = []
        for key, status, score, match, lon, lat, attrs in hits:
            result = GeocodeResult(
                status, None if score is None else float(score), match, lon, lat, attrs or {}
            )
            for a in by_key.pop(key):
                rows.append(writer.row_for(a, result, sent=False))
                writer.counts.from_cache += 1
        writer.write(rows)


def plan_batches(hook: Any, keys: list[str], counts: GeocodeCounts) -> tuple[list[list[str]], bool]:
    """Phase "plan batches": the texts to send, in batches of the service's advertised size; also
    whether the locator lacks batch support (one findAddressCandidates per text). No batches when
    the service info cannot be read (the reason goes to ``counts.stopped``); bad credentials raise."""
    from vehicle_sales.contact.arcgis.hook import (
        ArcGISMalformedResponseError,
        ArcGISRequestError,
        ArcGISTransientError,
        RequestCapReached,
    )

    if not keys:
        return [], False
    try:
        size = hook.batch_size()
    except RequestCapReached as exc:
        counts.stopped = str(exc)
        return [], False
    except (ArcGISMalformedResponseError, ArcGISTransientError, ArcGISRequestError) as exc:
        counts.stopped = f"service info: {exc}"
        return [], False
    step = size or 1
    return [keys[i : i + step] for i in range(0, len(keys), step)], size is None


def send(
    hook: Any, batches: list[list[str]], single: bool, writer: _Writer, by_key: dict[str, list[_Address]]
) -> None:
    """Phase "send": each batch to the service, its answers written (and cached) at once. Stops at
    the request cap or when the service keeps failing; a malformed answer leaves its batch pending;
    a refused request fails its batch and goes on."""
    from vehicle_sales.contact.arcgis.hook import (
        ArcGISMalformedResponseError,
        ArcGISRequestError,
        ArcGISTransientError,
        RequestCapReached,
    )

    counts = writer.counts
    for batch in batches:
        addresses = [a for k in batch for a in by_key[k]]
        try:
            results = _send_batch(hook, batch, by_key, single=single)
        except RequestCapReached as exc:
            counts.stopped = str(exc)
            return
        except ArcGISMalformedResponseError as exc:
            counts.malformed_batches += 1
            log.warning("geocoding: %s; %d address texts left pending", exc, len(batch))
            continue
        except ArcGISRequestError as exc:
            writer.fail(addresses, str(exc))
            continue
        except ArcGISTransientError as exc:
            writer.fail(addresses, str(exc))
            counts.stopped = str(exc)
            return
        rows, cache = [], []
        for k in batch:
            r = results.get(k)
            if r is None:
                rows.extend(
                    writer.row_for(
                        a, None, sent=True, error="no result for this record in the service's answer"
                    )
                    for a in by_key[k]
                )
                continue
            counts.sent += 1
            cache.append(_cache_row(k, r))
            rows.extend(writer.row_for(a, r, sent=True) for a in by_key[k])
        writer.write(rows, cache)


def _send_batch(
    hook: Any, batch: list[str], by_key: dict[str, list[_Address]], *, single: bool
) -> dict[str, GeocodeResult]:
    """Results by key for one batch (a record the service did not answer is absent)."""
    if single:  # no batch support: one findAddressCandidates per text
        (key,) = batch
        candidates = hook.find_address_candidates(single_params(by_key[key][0].fields))
        return {key: GeocodeResult.from_location(candidates[0]) if candidates else GeocodeResult.unmatched()}
    records = [request_record(i + 1, by_key[k][0].fields) for i, k in enumerate(batch)]
    out: dict[str, GeocodeResult] = {}
    for loc in hook.geocode_addresses(records):
        attrs = loc.get("attributes") if isinstance(loc.get("attributes"), dict) else {}
        try:
            rid = int(attrs.get("ResultID"))
        except (TypeError, ValueError):
            continue
        if 1 <= rid <= len(batch):
            out[batch[rid - 1]] = GeocodeResult.from_location(loc)
    return out


def finish(conn: psycopg.Connection) -> int:
    """Phase "finish": addr_geocode = the highest address_id below which every address is settled
    (never past a pending or failed row). Informational: selection does not rely on it."""
    mark = conn.execute(
        "SELECT coalesce(min(address_id) FILTER (WHERE geocode_status IN ('pending', 'failed')) - 1,"
        "                max(address_id), 0) FROM addresses"
    ).fetchone()[0]
    set_watermark(conn, WATERMARK, mark)
    conn.commit()
    return int(mark)


def geocode_addresses(
    conn: psycopg.Connection,
    hook: Any,
    *,
    min_score: float = 80.0,
    max_requests: int = 200,
    actor: Actor | None = None,
    max_attempts: int = 5,
    cache_chunk: int = 5000,
) -> GeocodeCounts:
    """Geocode what needs it: lock, select, settle empty, answer from cache, plan batches, send,
    finish (each phase above). Returns the counts.

    ``hook``: an ArcGISGeocodingHook (its retries, rate limit and timeouts apply); ``max_requests``
    caps the HTTP requests of this run (service info and retries included). Commits per batch: call
    it with no uncommitted work of your own on ``conn``. Raises ``ArcGISAuthError`` (a PermanentError)
    for bad credentials after saving what earlier batches produced; every other service problem is
    recorded on the addresses (failed / left pending) and reported in the counts.
    """
    started = time.monotonic()
    if actor is not None:
        set_actor(conn, actor)
        conn.commit()
    requests_before = hook.requests_made
    hook.set_request_budget(max_requests)
    counts = GeocodeCounts()
    try:
        with session_lock(conn, Lock.GEOCODE):
            alpha = conn.execute("SELECT alpha3, alpha2 FROM iso_country_codes").fetchall()
            writer = _Writer(
                conn,
                min_score,
                {a3.strip() for a3, _ in alpha},
                {a2.strip(): a3.strip() for a3, a2 in alpha if a2},
                counts,
            )
            by_key = select_work(conn, max_attempts)
            counts.selected = sum(len(v) for v in by_key.values())
            counts.distinct_texts = len(by_key)
            settle_empty(writer, by_key)
            answer_from_cache(conn, writer, by_key, cache_chunk)
            batches, single = plan_batches(hook, list(by_key), counts)
            send(hook, batches, single, writer, by_key)
    finally:
        counts.requests = hook.requests_made - requests_before
        counts.seconds = round(time.monotonic() - started, 3)
    counts.watermark = finish(conn)
    return counts
