"""The ArcGIS geocoding contract's payloads (docs/arcgis-geocoding.md): our address fields as a
``geocodeAddresses`` record or ``findAddressCandidates`` parameters, and an answer as a
:class:`GeocodeResult`. Pure: no HTTP, no database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_BASE_URL = "https://geocode-api.arcgis.com/arcgis/rest/services/World/GeocodeServer"
# the attributes we store (see geocode_cache.attributes); ResultID always comes back in batches
OUT_FIELDS = (
    "Match_addr",
    "Addr_type",
    "StAddr",
    "SubAddr",
    "City",
    "Region",
    "RegionAbbr",
    "Postal",
    "CountryCode",
    "CntryName",
    "Score",
    "Status",
    "X",
    "Y",
)


def finite(value: Any) -> float | None:
    """A JSON number as a finite float, else None (unmatched records come back with NaN/empty)."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


@dataclass(frozen=True)
class GeocodeResult:
    """One answer of the service (or of the cache) for one address text."""

    status: str  # M / T / U as returned
    score: float | None
    match_addr: str | None
    longitude: float | None
    latitude: float | None
    attributes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_location(cls, loc: dict[str, Any]) -> GeocodeResult:
        """From a geocodeAddresses ``locations[i]`` or a findAddressCandidates ``candidates[i]``."""
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
        return {
            "address": self.match_addr,
            "score": self.score,
            "status": self.status,
            "location": None if self.longitude is None else {"x": self.longitude, "y": self.latitude},
            "attributes": self.attributes,
        }


def request_record(object_id: int, fields: Sequence[Any]) -> dict[str, Any]:
    """A geocodeAddresses record (attributes) for our address fields."""
    st, sub, city, region, postal, country = fields
    rec: dict[str, Any] = {"OBJECTID": object_id}
    for name, value in (
        ("Address", st),
        ("Address2", sub),
        ("City", city),
        ("Region", region),
        ("Postal", postal),
        ("CountryCode", country),
    ):
        if value is not None and str(value).strip():
            rec[name] = str(value).strip()
    return rec


def single_params(fields: Sequence[Any]) -> dict[str, Any]:
    """findAddressCandidates parameters for our address fields."""
    rec = request_record(0, fields)
    names = {
        "Address": "address",
        "Address2": "address2",
        "City": "city",
        "Region": "region",
        "Postal": "postal",
        "CountryCode": "countryCode",
    }
    return {names[k]: v for k, v in rec.items() if k in names}
