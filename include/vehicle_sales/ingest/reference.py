"""ISO 3166 reference data: countries from pycountry, plus the aliases exports actually use."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg

from vehicle_sales.common import sql

log = logging.getLogger(__name__)

# Names seen in exports that are neither an ISO name nor an ISO code. Keys are matched
# case-insensitively after trimming (see sql/ingest/refresh/addresses.sql).
COUNTRY_ALIASES: dict[str, str] = {
    "USA": "USA",
    "US": "USA",
    "U.S.A.": "USA",
    "United States": "USA",
    "UK": "GBR",
    "U.K.": "GBR",
    "Great Britain": "GBR",
    "England": "GBR",
    "Scotland": "GBR",
    "Russia": "RUS",
    "South Korea": "KOR",
    "Korea": "KOR",
    "Taiwan": "TWN",
    "Vietnam": "VNM",
    "Iran": "IRN",
    "Czech Republic": "CZE",
    "Holland": "NLD",
    "The Netherlands": "NLD",
    "Bolivia": "BOL",
    "Venezuela": "VEN",
    "Tanzania": "TZA",
    "Syria": "SYR",
    "Laos": "LAO",
    "Moldova": "MDA",
    "Macedonia": "MKD",
    "Turkey": "TUR",
}


@dataclass(frozen=True)
class Country:
    alpha3: str
    alpha2: str
    name: str


def iso_countries() -> list[Country]:
    """Every ISO 3166-1 country known to pycountry."""
    import pycountry

    return [Country(c.alpha_3, c.alpha_2, c.name) for c in pycountry.countries]


def alias_rows(countries: list[Country]) -> list[tuple[str, str]]:
    """Aliases to load: the curated ones, plus each country's common and official names and its
    alpha-2/alpha-3 codes, so 'Norway', 'NO' and 'NOR' all resolve."""
    import pycountry

    rows: dict[str, str] = {}
    for c in countries:
        rows.setdefault(c.alpha3.upper(), c.alpha3)
        rows.setdefault(c.alpha2.upper(), c.alpha3)
    for pc in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            name = getattr(pc, attr, None)
            if name:
                rows.setdefault(name.upper(), pc.alpha_3)
    for alias, alpha3 in COUNTRY_ALIASES.items():
        rows[alias.upper()] = alpha3
    return sorted(rows.items())


@dataclass(frozen=True)
class ReferenceCounts:
    """What load_reference_data did."""

    countries: int
    countries_changed: int
    aliases: int
    aliases_changed: int

    def summary(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in asdict(self).items())


def _copy_rows(cur: psycopg.Cursor, table: str, columns: str, rows: list[tuple]) -> None:
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)


_RECORD, _UNIT = "\x1e", "\x1f"  # the separators of reference_in_place.sql's texts


def _joined(rows: list[tuple[str, ...]]) -> str | None:
    """Rows as one text: records joined by the record separator, fields by the unit separator; None
    when a value holds either (or is not a text), which the text could not carry."""
    if any(not isinstance(v, str) or _RECORD in v or _UNIT in v for row in rows for v in row):
        return None
    return _RECORD.join(_UNIT.join(row) for row in rows)


def in_place(conn: psycopg.Connection, countries: list[Country], aliases: list[tuple[str, str]]) -> bool:
    """Whether the tables hold every one of these rows with these values (the upserts would change
    nothing). Rows that cannot travel as a text (see _joined) are taken as not in place: the upserts
    load them as they are."""
    params = {
        "countries": _joined([(c.alpha3, c.alpha2, c.name) for c in countries]),
        "aliases": _joined(aliases),
    }
    if not countries or not aliases or None in params.values():
        return False
    return bool(conn.execute(sql.script("ingest/reference_in_place.sql"), params).fetchone()[0])


# What the rows are made from: pycountry's code and data, and this module (its aliases and how it
# derives the rest). A file missing is part of the fingerprint too (a pycountry laid out otherwise).
_PYCOUNTRY_SOURCES = ("__init__.py", "db.py", "databases/iso3166-1.json")


def fingerprint_of(paths: list[Path]) -> str:
    """The sha256 of these files' contents, each with its name (a missing file counts as missing,
    not as empty)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(b"\0" + path.name.encode() + b"\0")
        digest.update(b"\1" + path.read_bytes() if path.is_file() else b"\2(missing)")
    return digest.hexdigest()


def source_fingerprint() -> str | None:
    """The fingerprint of what the reference rows are computed from: this module and pycountry's
    sources (_PYCOUNTRY_SOURCES), read from disk without importing pycountry; None when pycountry
    cannot be found or this module has no source file (then every run compares the rows)."""
    spec = importlib.util.find_spec("pycountry")
    here = Path(__file__)
    if spec is None or spec.origin is None or not here.is_file():
        return None
    package = Path(spec.origin).parent
    return fingerprint_of([here, *(package / name for name in _PYCOUNTRY_SOURCES)])


def load_reference_data(conn: psycopg.Connection) -> ReferenceCounts:
    """Upsert ISO countries and aliases (set-based, idempotent, one transaction, committed). Its work
    does not depend on the exports: country texts that resolve to nothing are counted by
    refresh_core (unknown_country), for the rows it reads.

    Every run but the first usually has nothing to do, and finds out in one small query: the
    fingerprint of the sources (source_fingerprint) is recorded in reference_state once the rows are
    in place, and any change to the tables deletes that record (triggers.sql). Otherwise the rows are
    computed and compared with the tables in one query (in_place: in place after a change that left
    them as they were, or a new pycountry with the same countries), and upserted when they are not."""
    fingerprint = source_fingerprint()
    if fingerprint is not None:
        recorded = conn.execute(
            "SELECT countries, aliases FROM reference_state WHERE fingerprint = %s", (fingerprint,)
        ).fetchone()
        if recorded is not None:
            conn.commit()
            log.info("reference data in place (sources unchanged: fingerprint %s)", fingerprint[:12])
            return ReferenceCounts(recorded[0], 0, recorded[1], 0)
    # no change to the tables may commit between the comparison and the record (it would be lost):
    # writers wait for this transaction, and so does another loader (the mode conflicts with itself)
    conn.execute("LOCK TABLE iso_country_codes, iso_country_aliases IN SHARE ROW EXCLUSIVE MODE")
    countries = iso_countries()
    aliases = alias_rows(countries)
    if in_place(conn, countries, aliases):
        counts = ReferenceCounts(len(countries), 0, len(aliases), 0)
        log.info("reference data in place (%d countries, %d aliases compared)", len(countries), len(aliases))
    else:
        sql.run(conn, "ingest/reference_begin.sql")
        with conn.cursor() as cur:
            _copy_rows(
                cur, "tmp_iso", "alpha3, alpha2, name", [(c.alpha3, c.alpha2, c.name) for c in countries]
            )
            _copy_rows(cur, "tmp_alias", "alias, alpha3", aliases)
        counts = ReferenceCounts(
            countries=len(countries),
            countries_changed=sql.run(conn, "ingest/reference_countries.sql").fetchone()[0],
            aliases=len(aliases),
            aliases_changed=sql.run(conn, "ingest/reference_aliases.sql").fetchone()[0],
        )
        log.info("reference data loaded: %s", counts.summary())
    if fingerprint is not None:  # after the upserts: their triggers forget the record
        sql.run(
            conn,
            "ingest/reference_record.sql",
            {"fingerprint": fingerprint, "countries": counts.countries, "aliases": counts.aliases},
        )
    conn.commit()
    return counts
