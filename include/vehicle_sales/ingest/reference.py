"""ISO 3166 reference data: countries from pycountry, plus the aliases exports actually use."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import psycopg

log = logging.getLogger(__name__)

# Names seen in exports that are neither an ISO name nor an ISO code. Keys are matched
# case-insensitively after trimming (see sql/refresh_core.sql).
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


def load_reference_data(conn: psycopg.Connection) -> dict[str, int]:
    """Upsert ISO countries and aliases (set-based, idempotent); returns counts for the log."""
    countries = iso_countries()
    aliases = alias_rows(countries)
    with conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE tmp_iso (alpha3 char(3), alpha2 char(2), name text) ON COMMIT DROP")
        with cur.copy("COPY tmp_iso (alpha3, alpha2, name) FROM STDIN") as cp:
            for c in countries:
                cp.write_row((c.alpha3, c.alpha2, c.name))
        cur.execute(
            "INSERT INTO iso_country_codes (alpha3, alpha2, name) SELECT alpha3, alpha2, name FROM tmp_iso"
            " ON CONFLICT (alpha3) DO UPDATE SET alpha2 = EXCLUDED.alpha2, name = EXCLUDED.name"
            " WHERE (iso_country_codes.alpha2, iso_country_codes.name) IS DISTINCT FROM (EXCLUDED.alpha2, EXCLUDED.name)"
        )
        countries_changed = cur.rowcount
        cur.execute("CREATE TEMP TABLE tmp_alias (alias text, alpha3 char(3)) ON COMMIT DROP")
        with cur.copy("COPY tmp_alias (alias, alpha3) FROM STDIN") as cp:
            for row in aliases:
                cp.write_row(row)
        cur.execute(
            "INSERT INTO iso_country_aliases (alias, alpha3) SELECT alias, alpha3 FROM tmp_alias"
            " ON CONFLICT (alias) DO UPDATE SET alpha3 = EXCLUDED.alpha3"
            " WHERE iso_country_aliases.alpha3 IS DISTINCT FROM EXCLUDED.alpha3"
        )
        aliases_changed = cur.rowcount
        # countries in the raw data we cannot resolve: their addresses get country_code NULL
        cur.execute(
            "SELECT count(DISTINCT upper(trim(r.country))) FROM raw_orders_csv r"
            " WHERE r.country IS NOT NULL AND trim(r.country) <> ''"
            "   AND resolve_country(r.country) IS NULL"
        )
        unknown = cur.fetchone()[0]
    conn.commit()
    counts = {
        "countries": len(countries),
        "countries_changed": countries_changed,
        "aliases": len(aliases),
        "aliases_changed": aliases_changed,
        "unknown_countries_in_raw": unknown,
    }
    log.info("reference data: %s", counts)
    return counts
