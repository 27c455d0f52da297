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
from dataclasses import dataclass, field
from typing import Any

import psycopg
from vehicle_sales.common.db import Actor, advisory_lock_key, set_actor, set_watermark

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
    status = (str(status).strip().upper() if status is not None else "")
    try:
        s = float(score) if score is not None else None
    except (TypeError, ValueError):
        s = None
    if status == "U" or (status not in ("M", "T") and not s):
        return "unmatched"
    if status == "T":
        return "low_score"
    return "matched" if s is not None and s >= min_score else "low_score"


def map_country(code: Any, alpha3_known: Iterable[str] | None = None,
                alpha2_to_alpha3: dict[str, str] | None = None) -> str | None:
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


@dataclass(frozen=True)
class GeocodeResult:
    """One answer of the service (or of the cache) for one address text."""

    status: str                      # M / T / U as returned
    score: float | None
    match_addr: str | None
    longitude: float | None
    latitude: float | None
    attributes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_location(cls, loc: dict[str, Any]) -> GeocodeResult:
        """From a geocodeAddresses ``locations[i]`` or a findAddressCandidates ``candidates[i]``."""
        from vehicle_sales.contact.arcgis.hook import finite

        attrs = loc.get("attributes") if isinstance(loc.get("attributes"), dict) else {}
        attrs = {k: v for k, v in attrs.items() if k != "ResultID"}
        location = loc.get("location") if isinstance(loc.get("location"), dict) else {}
        lon, lat = finite(location.get("x")), finite(location.get("y"))
        score = finite(loc.get("score", attrs.get("Score")))
        status = str(attrs.get("Status") or ("M" if score else "U")).strip().upper()[:1] or "U"
        match_addr = loc.get("address") or attrs.get("Match_addr") or None
        if status == "U":
            lon = lat = None
        return cls(status, score, match_addr, lon, lat, attrs)

    @classmethod
    def unmatched(cls) -> GeocodeResult:
        return cls("U", 0.0, None, None, None, {})

    def candidate_json(self) -> dict[str, Any]:
        return {"address": self.match_addr, "score": self.score, "status": self.status,
                "location": None if self.longitude is None else {"x": self.longitude, "y": self.latitude},
                "attributes": self.attributes}


def standardised_fields(original: Sequence[Any], attrs: dict[str, Any], alpha3_known: Iterable[str] | None = None,
                        alpha2_to_alpha3: dict[str, str] | None = None) -> tuple[Any, ...]:
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


def request_record(object_id: int, fields: Sequence[Any]) -> dict[str, Any]:
    """A geocodeAddresses record (attributes) for our address fields."""
    st, sub, city, region, postal, country = fields
    rec: dict[str, Any] = {"OBJECTID": object_id}
    for name, value in (("Address", st), ("Address2", sub), ("City", city), ("Region", region),
                        ("Postal", postal), ("CountryCode", country)):
        if value is not None and str(value).strip():
            rec[name] = str(value).strip()
    return rec


def single_params(fields: Sequence[Any]) -> dict[str, Any]:
    """findAddressCandidates parameters for our address fields."""
    rec = request_record(0, fields)
    names = {"Address": "address", "Address2": "address2", "City": "city", "Region": "region",
             "Postal": "postal", "CountryCode": "countryCode"}
    return {names[k]: v for k, v in rec.items() if k in names}


# -- the database side -----------------------------------------------------------------------------
@dataclass
class _Address:
    address_id: int
    fields: tuple[Any, ...]
    key: str
    old_key: str | None
    status: str
    attempts: int


_UPD_COLUMNS = ("address_id", "o_st", "o_sub", "o_city", "o_region", "o_postal", "o_country", "outcome",
                "geocode_key", "sent", "score", "match_addr", "lon", "lat", "n_st", "n_sub", "n_city",
                "n_region", "n_postal", "n_country", "candidate", "error")

_CREATE_TEMP = """
CREATE TEMP TABLE IF NOT EXISTS _geo_upd (
    address_id bigint, o_st text, o_sub text, o_city text, o_region text, o_postal text, o_country char(3),
    outcome text, geocode_key text, sent boolean, score numeric(5,2), match_addr text,
    lon double precision, lat double precision, n_st text, n_sub text, n_city text, n_region text,
    n_postal text, n_country char(3), candidate jsonb, error text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS _geo_cache (
    geocode_key text, status text, score numeric(5,2), match_addr text, lon double precision,
    lat double precision, attributes jsonb
) ON COMMIT DELETE ROWS;
"""

# a row whose text changed since we read it is left alone (the next run sees the new text)
_APPLY = """
UPDATE addresses a SET
    st_addr = u.n_st, sub_addr = u.n_sub, city = u.n_city, region = u.n_region,
    postal_code = u.n_postal, country_code = u.n_country,
    geocode_status = u.outcome,
    geocode_key = u.geocode_key,
    geocode_attempts = CASE WHEN a.geocode_key IS DISTINCT FROM u.geocode_key THEN 0
                            ELSE a.geocode_attempts END + u.sent::int,
    score = CASE WHEN u.outcome = 'failed' THEN a.score ELSE u.score END,
    match_addr = CASE WHEN u.outcome = 'failed' THEN a.match_addr ELSE u.match_addr END,
    longitude = CASE WHEN u.outcome = 'failed' THEN a.longitude ELSE u.lon END,
    latitude = CASE WHEN u.outcome = 'failed' THEN a.latitude ELSE u.lat END,
    geocode_candidate = CASE WHEN u.outcome = 'failed' THEN a.geocode_candidate ELSE u.candidate END,
    geocode_error = u.error,
    geocoded_at = CASE WHEN u.outcome = 'failed' THEN a.geocoded_at ELSE now() END
FROM _geo_upd u
WHERE a.address_id = u.address_id
  AND (a.st_addr, a.sub_addr, a.city, a.region, a.postal_code, a.country_code)
      IS NOT DISTINCT FROM (u.o_st, u.o_sub, u.o_city, u.o_region, u.o_postal, u.o_country)
"""


@dataclass
class _Run:
    conn: psycopg.Connection
    min_score: float
    alpha3: set[str]
    alpha2: dict[str, str]
    counts: dict[str, Any]

    def row_for(self, a: _Address, result: GeocodeResult | None, *, sent: bool, error: str | None = None,
                outcome: str | None = None) -> tuple[Any, ...]:
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

    def write(self, rows: list[tuple[Any, ...]], cache: list[tuple[Any, ...]]) -> int:
        """One transaction: cache entries first, then the address updates. Returns rows updated."""
        if not rows and not cache:
            return 0
        try:
            with self.conn.cursor() as cur:
                cur.execute(_CREATE_TEMP)
                if cache:
                    with cur.copy("COPY _geo_cache (geocode_key, status, score, match_addr, lon, lat, attributes)"
                                  " FROM STDIN") as cp:
                        for r in cache:
                            cp.write_row(r)
                    cur.execute("INSERT INTO geocode_cache (geocode_key, status, score, match_addr, longitude,"
                                " latitude, attributes) SELECT DISTINCT ON (geocode_key) * FROM _geo_cache"
                                " ON CONFLICT (geocode_key) DO NOTHING")
                updated = 0
                if rows:
                    with cur.copy(f"COPY _geo_upd ({', '.join(_UPD_COLUMNS)}) FROM STDIN") as cp:
                        for r in rows:
                            cp.write_row(r)
                    cur.execute(_APPLY + " RETURNING u.outcome")
                    applied = [r[0] for r in cur.fetchall()]
                    updated = len(applied)
            self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise
        if rows:
            for outcome in applied:
                self.counts[outcome] += 1
            self.counts["changed_meanwhile"] += len(rows) - updated
        return updated


def _cache_row(key: str, r: GeocodeResult) -> tuple[Any, ...]:
    return (key, r.status, r.score, r.match_addr, r.longitude, r.latitude, json.dumps(r.attributes))


def _select(conn: psycopg.Connection, max_attempts: int) -> list[_Address]:
    rows = conn.execute(
        "SELECT address_id, st_addr, sub_addr, city, region, postal_code, country_code, geocode_status,"
        " geocode_key, geocode_attempts FROM addresses ORDER BY address_id").fetchall()
    todo: list[_Address] = []
    for aid, st, sub, city, region, postal, country, status, old_key, attempts in rows:
        fields = (st, sub, city, region, postal, country.strip() if isinstance(country, str) else country)
        key = normalise_address_key(*fields)
        changed = old_key != key
        if (status == "pending" or (status == "failed" and (attempts < max_attempts or changed))
                or (status != "failed" and changed)):
            todo.append(_Address(aid, fields, key, old_key, status, attempts))
    return todo


def _set_watermark(conn: psycopg.Connection) -> int:
    """addr_geocode = the highest address_id below which every address is settled (never past a
    pending or failed row). Informational: selection does not rely on it."""
    low = conn.execute("SELECT min(address_id) FROM addresses WHERE geocode_status IN ('pending', 'failed')"
                       ).fetchone()[0]
    mark = (low - 1) if low is not None else (conn.execute("SELECT coalesce(max(address_id), 0) FROM addresses"
                                                           ).fetchone()[0])
    set_watermark(conn, WATERMARK, mark)
    conn.commit()
    return int(mark)


def geocode_addresses(conn: psycopg.Connection, hook: Any, *, min_score: float = 80.0, max_requests: int = 200,
                      actor: Actor | None = None, max_attempts: int = 5,
                      cache_chunk: int = 5000) -> dict[str, Any]:
    """Geocode what needs it (see the module docstring); returns counts for the task summary/XCom.

    ``hook``: an ArcGISGeocodingHook (its retries, rate limit and timeouts apply); ``max_requests``
    caps the HTTP requests of this run (service info and retries included). Commits per batch: call
    it with no uncommitted work of your own on ``conn``. Raises ``ArcGISAuthError`` (a PermanentError)
    for bad credentials after saving what earlier batches produced; every other service problem is
    recorded on the addresses (failed / left pending) and reported in the counts.
    """
    from vehicle_sales.contact.arcgis.hook import (
        ArcGISAuthError,
        ArcGISMalformedResponseError,
        ArcGISRequestError,
        ArcGISTransientError,
        RequestCapReached,
    )

    started = time.monotonic()
    if actor is not None:
        set_actor(conn, actor)
        conn.commit()
    requests_before = hook.requests_made
    hook.set_request_budget(max_requests)
    counts: dict[str, Any] = {"selected": 0, "distinct_texts": 0, "from_cache": 0, "sent": 0, "requests": 0,
                              "matched": 0, "low_score": 0, "unmatched": 0, "failed": 0, "pending": 0,
                              "malformed_batches": 0, "changed_meanwhile": 0, "stopped": None}
    lock = advisory_lock_key("geocode")
    conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (lock,))
    try:
        alpha = conn.execute("SELECT alpha3, alpha2 FROM iso_country_codes").fetchall()
        run = _Run(conn, min_score, {a3.strip() for a3, _ in alpha},
                   {a2.strip(): a3.strip() for a3, a2 in alpha if a2}, counts)
        todo = _select(conn, max_attempts)
        conn.commit()
        counts["selected"] = len(todo)
        by_key: dict[str, list[_Address]] = {}
        for a in todo:
            by_key.setdefault(a.key, []).append(a)
        counts["distinct_texts"] = len(by_key)

        # empty addresses: nothing to send
        empty = [k for k in by_key if is_empty_key(k)]
        if empty:
            run.write([run.row_for(a, GeocodeResult.unmatched(), sent=False, error="address is empty",
                                   outcome="unmatched") for k in empty for a in by_key.pop(k)], [])

        # the cache, in chunks of keys (one transaction each)
        keys = list(by_key)
        for i in range(0, len(keys), cache_chunk):
            chunk = keys[i:i + cache_chunk]
            hits = conn.execute(
                "SELECT geocode_key, status, score, match_addr, longitude, latitude, attributes"
                " FROM geocode_cache WHERE geocode_key = ANY(%s)", (chunk,)).fetchall()
            rows = []
            for key, status, score, match, lon, lat, attrs in hits:
                result = GeocodeResult(status, None if score is None else float(score), match, lon, lat,
                                       attrs or {})
                for a in by_key.pop(key):
                    rows.append(run.row_for(a, result, sent=False))
                    counts["from_cache"] += 1
            conn.commit()
            run.write(rows, [])

        # the service
        keys = list(by_key)
        if keys:
            try:
                size = hook.batch_size()
            except RequestCapReached as exc:
                counts["stopped"] = str(exc)
                size = 0
            except ArcGISAuthError:
                raise
            except (ArcGISMalformedResponseError, ArcGISTransientError, ArcGISRequestError) as exc:
                counts["stopped"] = f"service info: {exc}"
                size = 0
            if size is not None and size == 0:
                batches: list[list[str]] = []
            else:
                step = size or 1
                batches = [keys[i:i + step] for i in range(0, len(keys), step)]
            for batch in batches:
                try:
                    results = _send(hook, batch, by_key, single=size is None)
                except RequestCapReached as exc:
                    counts["stopped"] = str(exc)
                    break
                except ArcGISMalformedResponseError as exc:
                    counts["malformed_batches"] += 1
                    log.warning("geocoding: %s; %d address texts left pending", exc, len(batch))
                    continue
                except ArcGISRequestError as exc:
                    run.write([run.row_for(a, None, sent=True, error=str(exc)[:500])
                               for k in batch for a in by_key[k]], [])
                    continue
                except ArcGISTransientError as exc:
                    run.write([run.row_for(a, None, sent=True, error=str(exc)[:500])
                               for k in batch for a in by_key[k]], [])
                    counts["stopped"] = str(exc)
                    break
                rows, cache = [], []
                for k in batch:
                    r = results.get(k)
                    if r is None:
                        rows.extend(run.row_for(a, None, sent=True, error="no result for this record in the"
                                                " service's answer") for a in by_key[k])
                        continue
                    counts["sent"] += 1
                    cache.append(_cache_row(k, r))
                    rows.extend(run.row_for(a, r, sent=True) for a in by_key[k])
                run.write(rows, cache)
    finally:
        try:
            conn.rollback()
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (lock,))
            conn.commit()
        except psycopg.Error:  # pragma: no cover - connection lost; the session lock died with it
            pass
        counts["requests"] = hook.requests_made - requests_before
        settled = sum(counts[k] for k in ("matched", "low_score", "unmatched", "failed"))
        counts["pending"] = counts["selected"] - settled
        counts["seconds"] = round(time.monotonic() - started, 3)
        log.info("geocode summary: selected=%d, distinct_texts=%d, from_cache=%d, sent=%d, requests=%d,"
                 " matched=%d, low_score=%d, unmatched=%d, failed=%d, pending=%d, malformed_batches=%d,"
                 " changed_meanwhile=%d, stopped=%s, seconds=%.1f", counts["selected"], counts["distinct_texts"],
                 counts["from_cache"], counts["sent"], counts["requests"], counts["matched"], counts["low_score"],
                 counts["unmatched"], counts["failed"], counts["pending"], counts["malformed_batches"],
                 counts["changed_meanwhile"], counts["stopped"] or "no", counts["seconds"])
    counts["watermark"] = _set_watermark(conn)
    return counts


def _send(hook: Any, batch: list[str], by_key: dict[str, list[_Address]], *, single: bool
          ) -> dict[str, GeocodeResult]:
    """Results by key for one batch (None for a record the service did not answer)."""
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
