"""Airflow hook for the ArcGIS World Geocoding Service (see docs: arcgis-geocoding contract).

Connection ``arcgis_geocoding`` (type ``arcgis_geocoding``):

* ``host``: the GeocodeServer URL. Default
  ``https://geocode-api.arcgis.com/arcgis/rest/services/World/GeocodeServer``. A scheme in the host is
  honoured (``http://127.0.0.1``); ``port`` and ``schema`` (the path) are appended when set, so both
  ``arcgis-geocoding://http://:KEY@127.0.0.1:8080/arcgis/rest/services/World/GeocodeServer`` and a
  JSON connection whose host is the full URL work. Without a scheme, https is used.
* ``password``: the API key. It is sent ONLY in the ``X-Esri-Authorization: Bearer <key>`` header:
  never as a ``token`` parameter, in a URL, a log line, an exception message or an XCom. Redirects
  are not followed (a redirect would carry the header to another host).

Faults: HTTP 429/5xx, timeouts and dropped connections are retried with exponential backoff and
jitter, honouring ``Retry-After`` up to a cap; an ``{"error": ...}`` body with 498/499/401/403 raises
:class:`ArcGISAuthError` (a :class:`~vehicle_sales.common.errors.PermanentError`) at once; a body that is
not the expected JSON raises :class:`ArcGISMalformedResponseError`. A requests-per-second limiter
spaces requests and :meth:`ArcGISGeocodingHook.set_request_budget` caps the requests of a run.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow.sdk import BaseHook

from vehicle_sales.common.errors import PermanentError
from vehicle_sales.contact.arcgis.payloads import DEFAULT_BASE_URL, OUT_FIELDS

log = logging.getLogger(__name__)

AUTH_HEADER = "X-Esri-Authorization"
AUTH_ERROR_CODES = frozenset({401, 403, 498, 499})
TRANSIENT_ERROR_CODES = frozenset({429, 500, 502, 503, 504})


class ArcGISError(Exception):
    """Base class of everything this hook raises."""


class ArcGISAuthError(ArcGISError, PermanentError):
    """Invalid/expired/missing key or no privilege: only fixing the connection helps; never retried."""


class ArcGISRequestError(ArcGISError):
    """The service refused this request (HTTP 4xx, error 400...): retrying the same request cannot help."""


class ArcGISTransientError(ArcGISError):
    """Throttling, 5xx, timeouts or dropped connections outlasted the retries."""


class ArcGISMalformedResponseError(ArcGISError):
    """The body is not the JSON the contract promises; the caller leaves those addresses pending."""


class RequestCapReached(ArcGISError):
    """The per-run request budget is spent; the caller leaves the rest for a later run."""


class ArcGISGeocodingHook(BaseHook):
    """Talks to a GeocodeServer over one ``requests.Session`` with retries, throttling and a budget."""

    conn_name_attr = "arcgis_conn_id"
    default_conn_name = "arcgis_geocoding"
    conn_type = "arcgis_geocoding"
    hook_name = "ArcGIS Geocoding"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form's labels, as the provider registers them (vehicle_sales/provider.py)."""
        from vehicle_sales.provider import ARCGIS_FORM

        return {key.replace("-", "_"): value for key, value in ARCGIS_FORM.items()}

    def __init__(
        self,
        arcgis_conn_id: str = default_conn_name,
        *,
        timeout: float | tuple[float, float] = (10.0, 120.0),
        max_retries: int = 4,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        max_retry_after: float = 60.0,
        requests_per_second: float | None = 5.0,
        max_requests: int | None = None,
        max_batch_size: int | None = None,
        source_country: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.arcgis_conn_id = arcgis_conn_id
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.requests_per_second = requests_per_second
        self.max_requests = max_requests
        self.max_batch_size = max_batch_size
        self.source_country = source_country
        self.requests_made = 0
        self._session: Any = None
        self._base_url: str | None = None
        self._key: str | None = None
        self._service_info: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._next_slot = 0.0

    # -- connection ---------------------------------------------------------------------------
    @staticmethod
    def base_url_from(host: str | None, port: int | None = None, schema: str | None = None) -> str:
        """The GeocodeServer URL a connection's host/port/schema describe."""
        host = (host or "").strip()
        if not host:
            return DEFAULT_BASE_URL
        if "://" not in host:
            host = "https://" + host
        parts = urlsplit(host)
        netloc = parts.netloc
        if port and parts.port is None:
            netloc = f"{netloc}:{int(port)}"
        path = parts.path.rstrip("/")
        if schema and schema.strip("/"):
            path = f"{path}/{schema.strip('/')}"
        if not path:
            path = urlsplit(DEFAULT_BASE_URL).path
        return urlunsplit((parts.scheme, netloc, path, "", ""))

    def _resolve(self) -> None:
        if self._base_url is not None:
            return
        conn = self.get_connection(self.arcgis_conn_id)
        key = (conn.password or "").strip()
        if not key:
            raise ArcGISAuthError(
                f"connection {self.arcgis_conn_id!r} has no API key: put the ArcGIS API key in its password"
            )
        try:  # keep the key out of task logs even if something prints it
            from airflow.sdk.log import mask_secret

            mask_secret(key)
        except Exception:  # pragma: no cover - masking is best effort outside a task
            pass
        self._key = key
        self._base_url = self.base_url_from(conn.host, conn.port, conn.schema)

    @property
    def base_url(self) -> str:
        self._resolve()
        assert self._base_url is not None
        return self._base_url

    def get_conn(self) -> Any:
        """The configured ``requests.Session`` (auth header set, no redirects followed)."""
        if self._session is None:
            import requests

            self._resolve()
            s = requests.Session()
            s.headers.update(
                {
                    AUTH_HEADER: f"Bearer {self._key}",
                    "Accept": "application/json",
                    "User-Agent": "vehicle-sales-rfm/arcgis-geocoding",
                }
            )
            s.trust_env = False  # no .netrc credentials or proxies from the environment
            self._session = s
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def _scrub(self, text: Any) -> str:
        text = str(text)
        if self._key:
            text = text.replace(self._key, "***")
        return text

    # -- budget and throttle --------------------------------------------------------------------
    def set_request_budget(self, max_requests: int | None) -> None:
        """Allow ``max_requests`` more HTTP requests (retries and service info included); None: no cap."""
        self.max_requests = None if max_requests is None else self.requests_made + max(0, int(max_requests))

    @property
    def requests_left(self) -> int | None:
        return None if self.max_requests is None else max(0, self.max_requests - self.requests_made)

    def _throttle(self) -> None:
        if not self.requests_per_second:
            return
        with self._lock:
            now = time.monotonic()
            wait = self._next_slot - now
            self._next_slot = max(now, self._next_slot) + 1.0 / self.requests_per_second
        if wait > 0:
            time.sleep(wait)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(0.0, retry_after), self.max_retry_after)
        ceiling = min(self.backoff_max, self.backoff_base * (2**attempt))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # "equal jitter"

    @staticmethod
    def parse_retry_after(value: str | None) -> float | None:
        """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent/bad."""
        if not value:
            return None
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        return max(0.0, when.timestamp() - time.time())

    # -- the request loop -----------------------------------------------------------------------
    def _request(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        import requests

        session = self.get_conn()
        url = self.base_url + (f"/{endpoint}" if endpoint else "")
        name = endpoint or "service info"
        reason = ""
        for attempt in range(self.max_retries + 1):
            if self.max_requests is not None and self.requests_made >= self.max_requests:
                raise RequestCapReached(f"request cap reached ({self.requests_made} requests this run)")
            self._throttle()
            self.requests_made += 1
            retry_after: float | None = None
            try:
                resp = session.request(
                    method, url, params=params, data=data, timeout=self.timeout, allow_redirects=False
                )
            except (requests.Timeout, requests.ConnectionError) as exc:
                reason = type(exc).__name__
            else:
                status = resp.status_code
                if status == 429 or status >= 500:
                    reason = f"HTTP {status}"
                    retry_after = self.parse_retry_after(resp.headers.get("Retry-After"))
                elif status in (401, 403):
                    raise ArcGISAuthError(self._auth_message(status, f"HTTP {status}"))
                elif status >= 300:
                    raise ArcGISRequestError(f"ArcGIS {name}: HTTP {status}")
                else:
                    payload = self._json(resp, name)
                    error = payload.get("error")
                    if error is None:
                        return payload
                    code, message = self._error_parts(error)
                    if code in AUTH_ERROR_CODES:
                        raise ArcGISAuthError(self._auth_message(code, message))
                    if code not in TRANSIENT_ERROR_CODES:
                        raise ArcGISRequestError(f"ArcGIS {name}: error {code}: {message}")
                    reason = f"error {code}: {message}"
            if attempt >= self.max_retries:
                break
            delay = self._delay(attempt, retry_after)
            log.warning(
                "ArcGIS %s: %s; retry %d/%d in %.2f s", name, reason, attempt + 1, self.max_retries, delay
            )
            time.sleep(delay)
        raise ArcGISTransientError(
            f"ArcGIS {name}: gave up after {self.max_retries + 1} attempts; last: {reason}"
        )

    def _json(self, resp: Any, name: str) -> dict[str, Any]:
        try:
            payload = json.loads(resp.content.decode(resp.encoding or "utf-8", errors="strict"))
        except (ValueError, UnicodeDecodeError):
            raise ArcGISMalformedResponseError(
                f"ArcGIS {name}: HTTP {resp.status_code} body is not JSON ({len(resp.content)} bytes)"
            ) from None
        if not isinstance(payload, dict):
            raise ArcGISMalformedResponseError(f"ArcGIS {name}: body is JSON but not an object")
        return payload

    def _error_parts(self, error: Any) -> tuple[int | None, str]:
        if not isinstance(error, dict):
            return None, self._scrub(error)[:200]
        try:
            code = int(error.get("code"))
        except (TypeError, ValueError):
            code = None
        message = str(error.get("message") or "")
        details = error.get("details")
        if isinstance(details, list) and details:
            message = f"{message} ({'; '.join(str(d) for d in details[:3])})"
        return code, self._scrub(message)[:300]

    def _auth_message(self, code: Any, message: str) -> str:
        return (
            f"ArcGIS refused the credentials of connection {self.arcgis_conn_id!r} ({code}: {message})."
            f" Fix the API key (password) of the {self.arcgis_conn_id!r} connection, or give the key"
            " the geocoding privilege and credits."
        )

    # -- the API --------------------------------------------------------------------------------
    def service_info(self) -> dict[str, Any]:
        """``GET {base}?f=json`` (cached for the hook's life)."""
        if self._service_info is None:
            info = self._request("GET", "", params={"f": "json"})
            if not isinstance(info.get("locatorProperties", {}), dict):
                raise ArcGISMalformedResponseError("ArcGIS service info: locatorProperties is not an object")
            self._service_info = info
        return self._service_info

    def batch_size(self) -> int | None:
        """Records per geocodeAddresses request: SuggestedBatchSize, bounded by MaxBatchSize (and our own
        ``max_batch_size``); None when the locator advertises no batch support (no MaxBatchSize)."""
        props = self.service_info().get("locatorProperties") or {}

        def as_int(v: Any) -> int | None:
            try:
                n = int(v)
            except (TypeError, ValueError):
                return None
            return n if n > 0 else None

        max_size, suggested = as_int(props.get("MaxBatchSize")), as_int(props.get("SuggestedBatchSize"))
        if max_size is None:
            return None
        size = min(suggested, max_size) if suggested else max_size
        if self.max_batch_size:
            size = min(size, self.max_batch_size)
        return size

    def geocode_addresses(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """POST geocodeAddresses for ``records`` (attribute dicts, each with an int ``OBJECTID``).

        Returns the ``locations`` list (match them to inputs by ``attributes.ResultID``)."""
        data = {
            "addresses": json.dumps({"records": [{"attributes": r} for r in records]}),
            "outFields": ",".join(OUT_FIELDS),
            "forStorage": "true",
            "f": "json",
        }
        if self.source_country:
            data["sourceCountry"] = self.source_country
        payload = self._request("POST", "geocodeAddresses", data=data)
        locations = payload.get("locations")
        if not isinstance(locations, list) or not all(isinstance(x, dict) for x in locations):
            raise ArcGISMalformedResponseError("ArcGIS geocodeAddresses: response has no 'locations' list")
        return locations

    def find_address_candidates(
        self, address: dict[str, Any], max_locations: int = 1
    ) -> list[dict[str, Any]]:
        """findAddressCandidates for one address (parameters ``address, address2, city, region, postal,
        countryCode`` ...); returns the candidates, best first (empty when nothing matched)."""
        params = {k: v for k, v in address.items() if v not in (None, "")}
        params.update(
            {
                "outFields": ",".join(OUT_FIELDS),
                "maxLocations": str(max_locations),
                "forStorage": "true",
                "f": "json",
            }
        )
        if self.source_country:
            params["sourceCountry"] = self.source_country
        payload = self._request("POST", "findAddressCandidates", data=params)
        candidates = payload.get("candidates")
        if not isinstance(candidates, list) or not all(isinstance(x, dict) for x in candidates):
            raise ArcGISMalformedResponseError(
                "ArcGIS findAddressCandidates: response has no 'candidates' list"
            )
        return candidates

    def test_connection(self) -> tuple[bool, str]:
        try:
            size = self.batch_size()
        except Exception as exc:
            return False, self._scrub(exc)
        return True, f"GeocodeServer reachable at {self.base_url}; batch size {size}"
