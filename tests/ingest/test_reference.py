"""ISO reference data: loaded once, then left alone while in place, and repaired when it is not."""

from __future__ import annotations

import logging

from vehicle_sales.ingest.reference import (
    Country,
    alias_rows,
    fingerprint_of,
    in_place,
    iso_countries,
    load_reference_data,
    source_fingerprint,
)

STATE = "SELECT fingerprint, countries, aliases FROM reference_state"

CONTENT = (
    "SELECT (SELECT array_agg((alpha3, alpha2, name)::text ORDER BY alpha3) FROM iso_country_codes),"
    "       (SELECT array_agg((alias, alpha3)::text ORDER BY alias) FROM iso_country_aliases)"
)


def test_reference_data_is_skipped_while_in_place_and_repaired_when_edited(conn):
    countries = iso_countries()
    aliases = alias_rows(countries)
    assert not in_place(conn, countries, aliases)
    first = load_reference_data(conn)
    assert (first.countries_changed, first.aliases_changed) == (len(countries), len(aliases))
    loaded = conn.execute(CONTENT).fetchone()
    assert in_place(conn, countries, aliases)
    again = load_reference_data(conn)
    assert (again.countries, again.countries_changed, again.aliases, again.aliases_changed) == (
        len(countries),
        0,
        len(aliases),
        0,
    )

    # a row added by hand is not the loader's: it stays, and the reference rows are still in place
    conn.execute("INSERT INTO iso_country_aliases VALUES ('NORGE', 'NOR')")
    conn.commit()
    assert in_place(conn, countries, aliases)

    # each kind of edit makes the reference rows not in place, and the next load puts them back
    edits = [
        "UPDATE iso_country_codes SET name = 'Norway!' WHERE alpha3 = 'NOR'",
        "UPDATE iso_country_codes SET alpha2 = NULL WHERE alpha3 = 'SWE'",
        "DELETE FROM iso_country_aliases WHERE alias = 'UK'",
        "UPDATE iso_country_aliases SET alpha3 = 'CAN' WHERE alias = 'USA'",
        "UPDATE iso_country_aliases SET alpha3 = NULL WHERE alias = 'HOLLAND'",
    ]
    for edit in edits:
        conn.execute(edit)
        conn.commit()
        assert conn.execute(STATE).fetchone() is None, edit  # the record of the sources is forgotten
        assert not in_place(conn, countries, aliases), edit
        repaired = load_reference_data(conn)
        assert repaired.countries_changed + repaired.aliases_changed == 1, edit
        assert in_place(conn, countries, aliases), edit
        assert conn.execute(STATE).fetchone() == (source_fingerprint(), len(countries), len(aliases)), edit
    conn.execute("TRUNCATE iso_country_aliases")
    conn.commit()
    assert conn.execute(STATE).fetchone() is None
    assert load_reference_data(conn).aliases_changed == len(aliases)
    conn.execute("DELETE FROM iso_country_aliases WHERE alias = 'NORGE'")
    conn.commit()
    assert conn.execute(CONTENT).fetchone() == loaded


def test_rows_the_check_cannot_carry_are_not_in_place(conn):
    """The check sends the rows as one text (separators 0x1E, 0x1F): a value holding one, or no value
    at all, is taken as not in place (the upserts then load the rows as they are), never as in place."""
    countries = iso_countries()
    aliases = alias_rows(countries)
    load_reference_data(conn)
    assert in_place(conn, countries, aliases)
    odd = [Country(c.alpha3, c.alpha2, c.name + "\x1e") if c.alpha3 == "NOR" else c for c in countries]
    assert not in_place(conn, odd, aliases)
    assert not in_place(conn, countries, [*aliases[:-1], (aliases[-1][0], None)])
    assert not in_place(conn, countries, [])


def test_unchanged_sources_skip_the_comparison_and_anything_else_compares(conn, caplog):
    """Once the rows are in place, the fingerprint of their sources is recorded and the next run with
    the same sources stops there; a record of other sources (pycountry upgraded, the loader's code
    changed) or none (a table edited) sends the run to the comparison, which records the new one."""
    caplog.set_level(logging.INFO, logger="vehicle_sales.ingest.reference")
    countries = iso_countries()
    aliases = alias_rows(countries)
    assert conn.execute(STATE).fetchone() is None
    load_reference_data(conn)
    fingerprint = source_fingerprint()
    assert fingerprint is not None and len(fingerprint) == 64
    assert conn.execute(STATE).fetchone() == (fingerprint, len(countries), len(aliases))

    caplog.clear()
    again = load_reference_data(conn)
    assert (again.countries, again.countries_changed, again.aliases, again.aliases_changed) == (
        len(countries),
        0,
        len(aliases),
        0,
    )
    assert "sources unchanged" in caplog.text and "compared" not in caplog.text

    conn.execute("UPDATE reference_state SET fingerprint = 'sources of another pycountry'")
    conn.commit()
    caplog.clear()
    assert load_reference_data(conn).countries_changed == 0
    assert "compared" in caplog.text and "sources unchanged" not in caplog.text
    assert conn.execute(STATE).fetchone() == (fingerprint, len(countries), len(aliases))

    # a row added by hand forgets the record too; the comparison finds the loader's rows in place
    conn.execute("INSERT INTO iso_country_aliases VALUES ('NORGE', 'NOR')")
    conn.commit()
    assert conn.execute(STATE).fetchone() is None
    caplog.clear()
    assert load_reference_data(conn).aliases_changed == 0
    assert "compared" in caplog.text
    assert conn.execute(STATE).fetchone() == (fingerprint, len(countries), len(aliases))


def test_the_fingerprint_follows_every_byte_and_a_missing_file(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.json"
    a.write_bytes(b"ALIASES = {'UK': 'GBR'}\n")
    b.write_bytes(b'{"3166-1": []}')
    first = fingerprint_of([a, b])
    assert fingerprint_of([a, b]) == first
    b.write_bytes(b'{"3166-1": [ ]}')
    assert fingerprint_of([a, b]) != first
    b.write_bytes(b'{"3166-1": []}')
    assert fingerprint_of([a, b]) == first
    empty, missing = tmp_path / "empty.json", tmp_path / "missing.json"
    empty.write_bytes(b"")
    assert fingerprint_of([a, empty]) != fingerprint_of([a, missing])
    assert fingerprint_of([b, a]) != first  # which file holds which bytes counts
