"""A local GeocodeServer speaking the ArcGIS contract of docs/arcgis-geocoding.md, over real HTTP.

    with FakeArcGIS(api_key="k") as fake:
        fake.base_url                      # http://127.0.0.1:<port>/arcgis/rest/services/World/GeocodeServer
        fake.fault("http", status=503)     # the next request gets a 503 ...
        fake.requests                      # ... and every request is logged (method, path, query, headers, form)

Answers are deterministic: an address text hashes to a location and a score. About 6% of texts are
unmatched and 12% score below 80; a street containing ``nowhere`` is always unmatched and one
containing ``vague`` always scores 65. Authentication is by the ``X-Esri-Authorization`` header only:
missing -> HTTP 200 with error 499, wrong -> error 498 (as ArcGIS does).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BASE_PATH = "/arcgis/rest/services/World/GeocodeServer"
ABBREVIATIONS = {
    "street": "St",
    "avenue": "Ave",
    "road": "Rd",
    "boulevard": "Blvd",
    "drive": "Dr",
    "circle": "Cir",
    "lane": "Ln",
    "place": "Pl",
    "square": "Sq",
}


@dataclass
class LoggedRequest:
    method: str
    path: str  # path without the base (``""`` for service info)
    raw_path: str  # the full request target, query string included
    headers: dict[str, str]
    form: dict[str, str]
    status: int = 0
    records: int = 0  # geocodeAddresses: records in the batch
    fault: str | None = None
    at: float = field(default_factory=time.monotonic)


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def standardise_street(street: str) -> str:
    words = street.split()
    return " ".join(ABBREVIATIONS.get(w.lower().strip(".,"), w[:1].upper() + w[1:]) for w in words)


def answer(attrs: dict[str, Any]) -> dict[str, Any]:
    """The deterministic geocode of one record's attributes (a location dict without ResultID)."""
    street = str(attrs.get("Address") or "").strip()
    parts = [
        str(attrs.get(k) or "").strip().lower()
        for k in ("Address", "Address2", "City", "Region", "Postal", "CountryCode")
    ]
    h = _stable_hash("|".join(parts))
    bucket = h % 100
    if "nowhere" in street.lower() or (bucket < 6 and "vague" not in street.lower()):
        return {
            "address": "",
            "location": {"x": float("nan"), "y": float("nan")},
            "score": 0,
            "attributes": {
                "Status": "U",
                "Score": 0,
                "Match_addr": "",
                "StAddr": "",
                "SubAddr": "",
                "City": "",
                "Region": "",
                "RegionAbbr": "",
                "Postal": "",
                "CountryCode": "",
                "Addr_type": "",
            },
        }
    score = (
        65.0 if "vague" in street.lower() else (60.0 + bucket % 20 if bucket < 18 else 85.0 + (h >> 8) % 16)
    )
    lon = round(-180 + (h >> 16) % 3_600_000 / 10_000, 6)
    lat = round(-80 + (h >> 40) % 1_600_000 / 10_000, 6)
    country = str(attrs.get("CountryCode") or "").upper()
    region = str(attrs.get("Region") or "")
    st = standardise_street(street)
    city = str(attrs.get("City") or "").title()
    postal = str(attrs.get("Postal") or "").replace(" ", "").upper()
    match = ", ".join(p for p in (st, city, region, postal, country) if p)
    return {
        "address": match,
        "location": {"x": lon, "y": lat},
        "score": score,
        "attributes": {
            "Status": "M",
            "Score": score,
            "Match_addr": match,
            "Addr_type": "PointAddress",
            "StAddr": st,
            "SubAddr": str(attrs.get("Address2") or ""),
            "City": city,
            "Region": region,
            "RegionAbbr": region[:3].upper() if region else "",
            "Postal": postal,
            "CountryCode": country,
            "CntryName": country,
            "X": lon,
            "Y": lat,
        },
    }


class FakeArcGIS:
    """A threaded HTTP server on 127.0.0.1 (free port) with a fault queue and a request log."""

    def __init__(
        self,
        api_key: str = "test-key-123",
        *,
        max_batch: int | None = 10,
        suggested_batch: int | None = 5,
        batch_supported: bool = True,
        require_auth_for_info: bool = False,
    ) -> None:
        self.api_key = api_key
        self.max_batch = max_batch
        self.suggested_batch = suggested_batch
        self.batch_supported = batch_supported
        self.require_auth_for_info = require_auth_for_info
        self.requests: list[LoggedRequest] = []
        self.faults: deque[dict[str, Any]] = deque()
        self.geocoded_texts: list[str] = []  # every record text the service answered (billing)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> FakeArcGIS:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-arcgis", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeArcGIS:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{BASE_PATH}"

    def connection_uri(self, api_key: str | None = None) -> str:
        """An Airflow connection URI (AIRFLOW_CONN_ARCGIS_GEOCODING) for this server."""
        from urllib.parse import quote

        key = self.api_key if api_key is None else api_key
        return f"arcgis-geocoding://http://:{quote(key, safe='')}@127.0.0.1:{self.port}{BASE_PATH}"

    # -- test controls -------------------------------------------------------------------------------
    def fault(self, kind: str, *, endpoint: str | None = None, times: int = 1, **options: Any) -> None:
        """Queue a fault for the next request(s) (of ``endpoint`` if given: ``""`` service info,
        ``geocodeAddresses``, ``findAddressCandidates``). Kinds:

        * ``http``: answer ``status`` (default 500) with optional ``headers`` and ``body``;
        * ``retry_after``: HTTP 429 with ``Retry-After: seconds``;
        * ``slow``: sleep ``seconds`` before answering normally (beyond the client's timeout);
        * ``error``: HTTP 200 with ``{"error": {"code": code}}`` (498, 499, 403, 400, 500...);
        * ``malformed``: HTTP 200 with a body that is not JSON (``body`` to choose it);
        * ``partial``: a normal batch answer missing its last ``drop`` (default 1) records;
        * ``drop``: close the connection without answering.
        """
        with self._lock:
            for _ in range(times):
                self.faults.append({"kind": kind, "endpoint": endpoint, **options})

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.faults.clear()
            self.geocoded_texts.clear()

    def count(self, path: str | None = None) -> int:
        return sum(1 for r in self.requests if path is None or r.path == path)

    def batch_sizes(self) -> list[int]:
        return [
            r.records
            for r in self.requests
            if r.path == "geocodeAddresses" and r.status == 200 and r.fault is None
        ]

    # -- serving --------------------------------------------------------------------------------------
    def _take_fault(self, path: str) -> dict[str, Any] | None:
        with self._lock:
            for i, f in enumerate(self.faults):
                if f["endpoint"] is None or f["endpoint"] == path:
                    del self.faults[i]
                    return f
        return None

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        params = {**query, **form}
        path = split.path
        if not path.startswith(BASE_PATH):
            return self._send(h, 404, {"error": {"code": 404, "message": "Not found"}})
        path = path[len(BASE_PATH) :].strip("/")
        entry = LoggedRequest(method, path, h.path, {k: v for k, v in h.headers.items()}, form)
        with self._lock:
            self.requests.append(entry)
        fault = self._take_fault(path)
        if fault:
            entry.fault = fault["kind"]
            kind = fault["kind"]
            if kind == "http":
                entry.status = fault.get("status", 500)
                return self._send(
                    h, entry.status, fault.get("body", {"message": "injected"}), fault.get("headers")
                )
            if kind == "retry_after":
                entry.status = 429
                return self._send(
                    h, 429, {"message": "Too Many Requests"}, {"Retry-After": str(fault.get("seconds", 1))}
                )
            if kind == "error":
                entry.status = 200
                code = fault.get("code", 500)
                return self._send(
                    h,
                    200,
                    {
                        "error": {
                            "code": code,
                            "message": fault.get("message", f"Error {code}"),
                            "details": [],
                        }
                    },
                )
            if kind == "malformed":
                entry.status = 200
                return self._send_raw(
                    h, 200, fault.get("body", b"<html>Bad gateway</html>"), "application/json"
                )
            if kind == "drop":
                h.close_connection = True
                try:
                    h.connection.shutdown(2)
                except OSError:
                    pass
                return None
            if kind == "slow":
                time.sleep(fault.get("seconds", 2.0))
        auth = h.headers.get("X-Esri-Authorization")
        expected = f"Bearer {self.api_key}"
        needs_auth = path in ("geocodeAddresses", "findAddressCandidates") or self.require_auth_for_info
        if (auth is not None and auth != expected) or ("token" in params and params["token"] != self.api_key):
            entry.status = 200
            return self._send(h, 200, {"error": {"code": 498, "message": "Invalid Token", "details": []}})
        if needs_auth and auth is None and "token" not in params:
            entry.status = 200
            return self._send(h, 200, {"error": {"code": 499, "message": "Token Required", "details": []}})
        entry.status = 200
        if path == "":
            return self._send(h, 200, self._info())
        if path == "findAddressCandidates":
            attrs = {
                "Address": params.get("address"),
                "Address2": params.get("address2"),
                "City": params.get("city"),
                "Region": params.get("region"),
                "Postal": params.get("postal"),
                "CountryCode": params.get("countryCode"),
            }
            loc = answer(attrs)
            with self._lock:
                self.geocoded_texts.append(_text(attrs))
            cands = [] if loc["attributes"]["Status"] == "U" else [{**loc, "extent": {}}]
            return self._send(h, 200, {"spatialReference": {"wkid": 4326}, "candidates": cands})
        if path == "geocodeAddresses":
            if method != "POST" or not self.batch_supported:
                return self._send(
                    h,
                    200,
                    {
                        "error": {
                            "code": 400,
                            "message": "Unable to complete operation.",
                            "details": ["batch geocoding is not supported"],
                        }
                    },
                )
            try:
                records = json.loads(params.get("addresses") or "")["records"]
            except (ValueError, KeyError, TypeError):
                return self._send(
                    h, 200, {"error": {"code": 400, "message": "Invalid addresses", "details": []}}
                )
            entry.records = len(records)
            records = records[: self.max_batch] if self.max_batch else records
            locations = []
            for rec in records:
                attrs = rec.get("attributes", {})
                loc = answer(attrs)
                loc["attributes"]["ResultID"] = attrs.get("OBJECTID")
                locations.append(loc)
                with self._lock:
                    self.geocoded_texts.append(_text(attrs))
            if fault and fault["kind"] == "partial":
                drop = fault.get("drop", 1)
                locations = locations[:-drop] if drop else locations
            locations.reverse()  # results are matched by ResultID, never by position
            return self._send(
                h, 200, {"spatialReference": {"wkid": 4326, "latestWkid": 4326}, "locations": locations}
            )
        return self._send(h, 200, {"error": {"code": 400, "message": "Unknown operation", "details": []}})

    def _info(self) -> dict[str, Any]:
        props: dict[str, Any] = {"UICLocale": "en", "MinBatchSize": 1, "LoadBalancerTimeOut": 60}
        if self.batch_supported and self.max_batch:
            props["MaxBatchSize"] = self.max_batch
            if self.suggested_batch:
                props["SuggestedBatchSize"] = self.suggested_batch
        return {
            "currentVersion": 11.3,
            "serviceDescription": "Fake World Geocoding Service",
            "addressFields": [
                {"name": n, "type": "esriFieldTypeString"}
                for n in ("Address", "Address2", "City", "Region", "Postal", "CountryCode")
            ],
            "candidateFields": [{"name": n} for n in ("Match_addr", "Score", "Status", "StAddr")],
            "spatialReference": {"wkid": 4326},
            "locatorProperties": props,
            "capabilities": "Geocode,ReverseGeocode,Suggest",
        }

    @staticmethod
    def _send(
        h: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> None:
        FakeArcGIS._send_raw(
            h, status, json.dumps(payload).encode(), "application/json;charset=UTF-8", headers
        )

    @staticmethod
    def _send_raw(
        h: BaseHTTPRequestHandler,
        status: int,
        body: bytes | str,
        ctype: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass


def _text(attrs: dict[str, Any]) -> str:
    return "|".join(
        str(attrs.get(k) or "") for k in ("Address", "Address2", "City", "Region", "Postal", "CountryCode")
    )
