"""ISO 3166 reference data: countries from pycountry, plus the aliases exports actually use."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import psycopg

from vehicle_sales.common import sql

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


def load_reference_data(conn: psycopg.Connection) -> ReferenceCounts:
    """Upsert ISO countries and aliases (set-based, idempotent, one transaction, committed). Its work
    does not depend on the exports: country texts that resolve to nothing are counted by
    refresh_core (unknown_country), for the rows it reads. When every row is in place already (every
    run but the first, unless pycountry or the aliases changed, or someone edited a row), one query
    says so and nothing is written (5-10 ms instead of 17-19 for the upserts that change nothing)."""
    countries = iso_countries()
    aliases = alias_rows(countries)
    if in_place(conn, countries, aliases):
        conn.commit()
        return ReferenceCounts(len(countries), 0, len(aliases), 0)
    sql.run(conn, "ingest/reference_begin.sql")
    with conn.cursor() as cur:
        _copy_rows(cur, "tmp_iso", "alpha3, alpha2, name", [(c.alpha3, c.alpha2, c.name) for c in countries])
        _copy_rows(cur, "tmp_alias", "alias, alpha3", aliases)
    counts = ReferenceCounts(
        countries=len(countries),
        countries_changed=sql.run(conn, "ingest/reference_countries.sql").fetchone()[0],
        aliases=len(aliases),
        aliases_changed=sql.run(conn, "ingest/reference_aliases.sql").fetchone()[0],
    )
    conn.commit()
    return counts
