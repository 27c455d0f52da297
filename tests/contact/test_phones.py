"""Phone validation: the pure validator per country of the sample, and the warehouse step on a real
PostgreSQL (every customer validated or given a reason, incremental, audited, crash-safe)."""

from __future__ import annotations

import csv
import random
import re
import time

import psycopg
import pytest

from support import ingest, refresh_core
from vehicle_sales.common.db import Actor, get_watermark
from vehicle_sales.common.paths import SAMPLE_CSV
from vehicle_sales.contact import phones
from vehicle_sales.contact.phones import REASONS, PhoneResult, validate_phone, validate_phones
from vehicle_sales.ingest.reference import load_reference_data

# --- the pure validator ---------------------------------------------------------------------------

V = "valid"
# (raw, region, expected E.164 or the reason it is invalid)
CASES = [
    # USA: every way the export writes them, extensions, notes, garbage
    ("(415) 555-2671", "US", "+14155552671"),
    ("415-555-2671", "US", "+14155552671"),
    ("415.555.2671", "US", "+14155552671"),
    ("4155552671", "US", "+14155552671"),
    ("+1 415 555 2671", "US", "+14155552671"),
    ("1-415-555-2671", "US", "+14155552671"),
    ("415-555-2671 ext. 12", "US", "+14155552671"),
    ("415-555-2671 x204", "US", "+14155552671"),
    ("415-555-2671 (ask for sales)", "US", "+14155552671"),
    ("011 44 20 7555 1234", "US", "+442075551234"),  # US exit code, a UK number
    ("0033 1 47 55 12 34", "US", "+33147551234"),  # European exit code from a US customer
    ("123-555-0100", "US", "invalid for region"),  # no area code 123
    ("555-CALL-NOW", "US", "invalid for region"),  # letters read as digits: area code 555
    ("415-555", "US", "too short"),
    ("415-555-2671-99999", "US", "too long"),
    ("n/a", "US", "not a number"),
    ("0", "US", "too short"),
    ("", "US", "empty"),
    ("   ", "US", "empty"),
    (None, "US", "empty"),
    # France
    ("01 47 55 12 34", "FR", "+33147551234"),
    ("(1) 47.55.1234", "FR", "+33147551234"),  # pre-1996 Paris style
    ("+33 1 47 55 12 34", "FR", "+33147551234"),
    ("0033 1 47 55 12 34", "FR", "+33147551234"),
    ("40.32.1234", "FR", "too short"),
    # Spain
    ("(91) 555 12 34", "ES", "+34915551234"),
    ("+34 932 123 456", "ES", "+34932123456"),
    ("93 212 3456", "ES", "+34932123456"),
    ("91-555-1234", "ES", "+34915551234"),
    # Germany
    ("0221-5551234", "DE", "+492215551234"),
    ("+49 69 12 34 5678", "DE", "+496912345678"),
    ("(089) 555 1234", "DE", "+49895551234"),
    # Sweden
    ("0921-12 3555", "SE", "+46921123555"),
    ("08-123 45 67", "SE", "+4681234567"),
    ("+46 8 555 12 34", "SE", "+4685551234"),
    # Norway: no trunk prefix, so "(0)" is dropped; "07-98 ..." is not a Norwegian number
    ("22 12 34 56", "NO", "+4722123456"),
    ("(0)55 12 34 56", "NO", "+4755123456"),
    ("+47 2212 3456", "NO", "+4722123456"),
    ("07-98 1234", "NO", "invalid for region"),
    # Denmark
    ("31 12 3456", "DK", "+4531123456"),
    ("86 21 34 56", "DK", "+4586213456"),
    # Finland
    ("981-443456", "FI", "+358981443456"),
    ("(09) 123 4567", "FI", "+35891234567"),
    ("+358 9 8555 123", "FI", "+35898555123"),
    ("90-224 1234", "FI", "invalid for region"),
    # Italy: the leading 0 is part of the number
    ("02 1234 5678", "IT", "+390212345678"),
    ("+39 011 4912345", "IT", "+390114912345"),
    ("035-640123", "IT", "+39035640123"),
    # Austria
    ("0316 555 1234", "AT", "+433165551234"),
    ("+43 662 85 1234", "AT", "+43662851234"),
    # Switzerland
    ("022 555 12 34", "CH", "+41225551234"),
    ("+41 31 555 12 34", "CH", "+41315551234"),
    ("0452-076123", "CH", "invalid for region"),
    # Belgium
    ("(02) 201 12 34", "BE", "+3222011234"),
    ("+32 2 201 12 34", "BE", "+3222011234"),
    ("(071) 23 67 1234", "BE", "too long"),
    # UK
    ("020 7555 1234", "GB", "+442075551234"),
    ("+44 (0)20 7555 1234", "GB", "+442075551234"),
    ("0161 555 1234", "GB", "+441615551234"),
    ("07911 123456", "GB", "+447911123456"),
    ("(171) 555-1234", "GB", "invalid for region"),  # London's code before 2000
    # Ireland
    ("(021) 496 1234", "IE", "+353214961234"),
    ("+353 1 862 1234", "IE", "+35318621234"),
    # Canada
    ("(604) 555-1234", "CA", "+16045551234"),
    ("514-555-1234", "CA", "+15145551234"),
    # Australia: "61-7-..." is the country code written without "+"
    ("03 9520 1234", "AU", "+61395201234"),
    ("(02) 9936 1234", "AU", "+61299361234"),
    ("61-7-3844-1234", "AU", "+61738441234"),
    ("+61 2 9495 1234", "AU", "+61294951234"),
    # Japan
    ("03-3584-1234", "JP", "+81335841234"),
    ("06-6342-1234", "JP", "+81663421234"),
    ("+81 3 3584 1234", "JP", "+81335841234"),
    # Singapore
    ("6562-1234", "SG", "+6565621234"),
    ("65 6224 1234", "SG", "+6562241234"),
    ("+65 6221 1234", "SG", "+6562211234"),
    # Philippines: Manila numbers have 8 digits since 2019
    ("(02) 8555 1234", "PH", "+63285551234"),
    ("+63 2 555 1234", "PH", "invalid for region"),
    # already international: the customer's country does not matter, or is unknown
    ("+1 604 555 1234", "FR", "+16045551234"),
    ("+46 921 12 35 55", None, "+46921123555"),
    ("0033 1 47 55 12 34", None, "+33147551234"),
    ("011 81 3 3584 1234", None, "+81335841234"),
    ("+44 20 7555 1234", "ZZ", "+442075551234"),
    ("+999 1234567", None, "invalid for region"),  # no such country calling code
    # no country: a national number and no (known) country
    ("0921-12 3555", None, "no country"),
    ("0921-12 3555", "ZZ", "no country"),
    ("0921-12 3555", "", "no country"),
    # garbage
    ("-", "SE", "not a number"),
    ("???", "DE", "not a number"),
    ("+", "FR", "not a number"),
    ("tel:", "GB", "not a number"),
]


@pytest.mark.parametrize("raw,region,expected", CASES, ids=[f"{r}-{p!r}"[:40] for p, r, _ in CASES])
def test_validate_phone_per_country(raw, region, expected):
    got = validate_phone(raw, region)
    if expected.startswith("+"):
        assert got.valid and got.e164 == expected and got.reason is None, got
        # the international form is the same number (plus the extension, if any)
        assert got.international.startswith("+") and re.sub(r"\D", "", got.international).startswith(
            expected[1:]
        )
    else:
        assert got == PhoneResult(False, None, None, expected)


@pytest.mark.parametrize(
    "raw,region,international",
    [
        ("415-555-2671 ext. 12", "US", "+1 415-555-2671 ext. 12"),
        ("415-555-2671 x204", "US", "+1 415-555-2671 ext. 204"),
        ("0921-12 3555", "se", "+46 921 12 35 55"),  # region case does not matter
        ("01 47 55 12 34", "FR", "+33 1 47 55 12 34"),
        ("03-3584-1234", "JP", "+81 3-3584-1234"),
    ],
)
def test_international_format_keeps_the_extension(raw, region, international):
    got = validate_phone(raw, region)
    assert got.valid and got.international == international
    assert "ext" not in got.e164 and re.fullmatch(r"\+\d{8,15}", got.e164)


@pytest.mark.parametrize(
    "raw",
    [
        "1" * 10_000,
        "+" + "4" * 10_000,
        "a" * 10_000,
        "ext. " * 2_000,
        "(" * 10_000,
        "0" * (phones.MAX_INPUT_CHARS + 1),
    ],
)
def test_very_long_input_is_refused_quickly(raw):
    t0 = time.perf_counter()
    got = validate_phone(raw, "US")
    assert time.perf_counter() - t0 < 0.05
    assert got == PhoneResult(False, None, None, "too long")


def test_random_input_never_raises_and_results_are_consistent():
    rng = random.Random(42)
    alphabet = "0123456789 +-().x/#*extEXT\t,;:abcäöü☎０１２＋"
    seen = set()
    for _ in range(3000):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        got = validate_phone(raw, rng.choice(["US", "FR", "SE", "JP", None, "ZZ"]))
        seen.add(got.reason)
        if got.valid:
            assert got.reason is None and re.fullmatch(r"\+\d{4,15}", got.e164) and got.international
        else:
            assert got.reason in REASONS and got.e164 is None and got.international is None
    assert {"not a number", "too short"} <= seen


# --- the warehouse step -------------------------------------------------------------------------

# the sample's country names -> ISO alpha-2, written out independently of the reference tables
SAMPLE_REGIONS = {
    "USA": "US",
    "France": "FR",
    "Spain": "ES",
    "Germany": "DE",
    "Sweden": "SE",
    "Norway": "NO",
    "Denmark": "DK",
    "Finland": "FI",
    "Italy": "IT",
    "Austria": "AT",
    "Switzerland": "CH",
    "Belgium": "BE",
    "UK": "GB",
    "Ireland": "IE",
    "Canada": "CA",
    "Australia": "AU",
    "Japan": "JP",
    "Singapore": "SG",
    "Philippines": "PH",
}
RUN1 = Actor("vehicle_sales_rfm", "manual__phones_1", "validate_phones")
RUN2 = Actor("vehicle_sales_rfm", "manual__phones_2", "validate_phones")


def sample_customers() -> dict[str, tuple[str | None, str]]:
    """company -> (phone as loaded, region), read from the bundled file (last line wins)."""
    out = {}
    with open(SAMPLE_CSV, encoding="cp1252", newline="") as fh:
        for r in csv.DictReader(fh):
            out[r["CUSTOMERNAME"].strip()] = (r["PHONE"].strip() or None, SAMPLE_REGIONS[r["COUNTRY"]])
    return out


@pytest.fixture
def loaded(db_url):
    """A warehouse with the bundled sample staged and refreshed; returns its URL."""
    with psycopg.connect(db_url) as c:
        load_reference_data(c)
        ingest(c, SAMPLE_CSV)
        refresh_core(c, run_id="load")
    return db_url


def customer_state(conn):
    return {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT customer_id, xmin::text, phone, phone_valid, phone_e164, phone_international,"
            " phone_invalid_reason, phone_checked_input, phone_validated_at FROM customers"
        )
    }


def audit_rows(conn, run_id):
    return conn.execute(
        "SELECT customer_id, operation, changed_by, airflow_dag_id, airflow_task_id, phone,"
        " phone_valid, phone_e164, phone_invalid_reason FROM customers_audit"
        " WHERE airflow_run_id = %s ORDER BY audit_id",
        (run_id,),
    ).fetchall()


def test_sample_every_customer_validated_or_given_a_reason(loaded):
    expected = sample_customers()
    with psycopg.connect(loaded) as conn:
        counts = validate_phones(conn, batch_size=25, actor=RUN1)
        rows = conn.execute(
            "SELECT customer_id, company_name, phone, phone_valid, phone_e164,"
            " phone_international, phone_invalid_reason, phone_checked_input,"
            " phone_validated_at FROM customers ORDER BY customer_id"
        ).fetchall()
        audit = audit_rows(conn, RUN1.run_id)
        watermark = get_watermark(conn, "phone_val")
    assert len(rows) == len(expected) == 92
    assert counts.candidates == counts.validated == 92 and counts.batches == 4  # 25+25+25+17
    assert counts.valid + counts.invalid == 92 and 0 < counts.invalid < 92
    assert sum(counts.by_reason.values()) == counts.invalid
    assert counts.watermark_before == 0 and counts.watermark_after == watermark == rows[-1][0]
    reasons = {}
    for _cid, company, phone, valid, e164, intl, reason, checked, validated_at in rows:
        raw, region = expected[company]
        assert phone == raw  # the raw phone is never modified
        assert validated_at is not None and checked == f"{raw or ''}|{region}"
        want = validate_phone(raw, region)
        assert (valid, e164, intl, reason) == (want.valid, want.e164, want.international, want.reason), (
            company
        )
        assert (valid and e164 and intl and reason is None) or (
            valid is False and reason in REASONS and not e164
        )
        reasons[reason] = reasons.get(reason, 0) + 1
    assert reasons.pop(None) == counts.valid and reasons == counts.by_reason
    # one attributed audit row per customer, carrying the result
    assert len(audit) == 92 and {a[0] for a in audit} == {r[0] for r in rows}
    assert all(
        a[1] == "U"
        and "vehicle_sales_rfm/manual__phones_1/validate_phones" in a[2]
        and a[3:5] == ("vehicle_sales_rfm", "validate_phones")
        for a in audit
    )
    by_id = {r[0]: r for r in rows}
    assert all((a[6], a[7], a[8]) == (by_id[a[0]][3], by_id[a[0]][4], by_id[a[0]][6]) for a in audit)


def test_rerun_with_nothing_changed_touches_nothing(loaded):
    with psycopg.connect(loaded) as conn:
        first = validate_phones(conn, batch_size=40, actor=RUN1)
        before = customer_state(conn)
        n_audit = conn.execute("SELECT count(*) FROM customers_audit").fetchone()[0]
        wm = conn.execute(
            "SELECT last_id, updated_at FROM etl_watermark WHERE target = 'phone_val'"
        ).fetchone()
        counts = validate_phones(conn, batch_size=40, actor=RUN2)
        assert customer_state(conn) == before  # same xmin: no row version written
        assert conn.execute("SELECT count(*) FROM customers_audit").fetchone()[0] == n_audit
        assert audit_rows(conn, RUN2.run_id) == []
        assert (
            conn.execute(
                "SELECT last_id, updated_at FROM etl_watermark WHERE target = 'phone_val'"
            ).fetchone()
            == wm
        )
    assert (counts.candidates, counts.validated, counts.batches) == (0, 0, 0)
    assert counts.watermark_before == counts.watermark_after == wm[0]
    assert first.summary().startswith("candidates=92, validated=92, ")
    assert counts.summary().startswith("candidates=0, validated=0, ")


def test_changed_phone_or_country_revalidates_only_that_customer(loaded):
    with psycopg.connect(loaded) as conn:
        validate_phones(conn, actor=RUN1)
        us = conn.execute(
            "SELECT c.customer_id FROM customers c JOIN addresses a USING (customer_id)"
            " WHERE a.country_code = 'USA' ORDER BY 1 LIMIT 2"
        ).fetchall()
        phone_id, country_id = us[0][0], us[1][0]
        conn.execute(
            "UPDATE customers SET phone = '0033 1 47 55 12 34 ext. 7' WHERE customer_id = %s", (phone_id,)
        )
        conn.commit()
        before = customer_state(conn)
        counts = validate_phones(conn, actor=RUN2)
        after = customer_state(conn)
        assert (counts.candidates, counts.validated, counts.valid) == (1, 1, 1)
        assert {k for k in after if after[k] != before[k]} == {phone_id}
        _, phone, valid, e164, intl, reason, checked, _ = after[phone_id]
        assert (phone, valid, e164, intl, reason) == (
            "0033 1 47 55 12 34 ext. 7",
            True,
            "+33147551234",
            "+33 1 47 55 12 34 ext. 7",
            None,
        )
        assert checked == "0033 1 47 55 12 34 ext. 7|US"
        audit = audit_rows(conn, RUN2.run_id)
        assert audit == [
            (
                phone_id,
                "U",
                "postgres (vehicle_sales_rfm/manual__phones_2/validate_phones)",
                "vehicle_sales_rfm",
                "validate_phones",
                "0033 1 47 55 12 34 ext. 7",
                True,
                "+33147551234",
                None,
            )
        ]

        # the country changes (every address of the customer): revalidated against the new one
        old_phone = after[country_id][1]
        conn.execute("UPDATE addresses SET country_code = 'SWE' WHERE customer_id = %s", (country_id,))
        conn.commit()
        counts = validate_phones(conn, actor=RUN2)
        assert (counts.candidates, counts.validated) == (1, 1)
        row = customer_state(conn)[country_id]
        assert row[6] == f"{old_phone}|SE" and row[1] == old_phone
        want = validate_phone(old_phone, "SE")
        assert (row[2], row[3], row[5]) == (want.valid, want.e164, want.reason)
        assert validate_phones(conn, actor=RUN2).candidates == 0


def test_customer_without_address_gets_no_country_and_international_numbers_still_validate(loaded):
    with psycopg.connect(loaded) as conn:
        conn.execute(
            "INSERT INTO customers (company_name, phone) VALUES ('Nowhere Ltd', '0921-12 3555'),"
            " ('Abroad AB', '+46 921 12 35 55'), ('Silent Co', NULL)"
        )
        conn.commit()
        validate_phones(conn, actor=RUN1)
        got = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT company_name, phone_valid, phone_e164, phone_international, phone_invalid_reason,"
                " phone_checked_input FROM customers WHERE company_name IN ('Nowhere Ltd', 'Abroad AB', 'Silent Co')"
            )
        }
    assert got == {
        "Nowhere Ltd": (False, None, None, "no country", "0921-12 3555|"),
        "Abroad AB": (True, "+46921123555", "+46 921 12 35 55", None, "+46 921 12 35 55|"),
        "Silent Co": (False, None, None, "empty", "|"),
    }


def test_crash_after_first_batch_leaves_the_rest_for_the_next_run(loaded):
    def crash(batch_no, counts):
        if batch_no == 1:
            raise RuntimeError("worker killed")

    with psycopg.connect(loaded) as conn:
        with pytest.raises(RuntimeError, match="worker killed"):
            validate_phones(conn, batch_size=10, actor=RUN1, on_batch=crash)
        done = conn.execute(
            "SELECT customer_id, xmin::text FROM customers WHERE phone_validated_at IS NOT NULL ORDER BY 1"
        ).fetchall()
        all_ids = [r[0] for r in conn.execute("SELECT customer_id FROM customers ORDER BY 1")]
        assert [d[0] for d in done] == all_ids[:10]
        assert get_watermark(conn, "phone_val") == all_ids[9]

        counts = validate_phones(conn, batch_size=10, actor=RUN2)
        assert (counts.candidates, counts.validated, counts.batches) == (82, 82, 9)
        assert counts.watermark_before == all_ids[9] and counts.watermark_after == all_ids[-1]
        assert (
            conn.execute("SELECT count(*) FROM customers WHERE phone_validated_at IS NULL").fetchone()[0] == 0
        )
        # the first run's rows were not validated twice
        assert (
            conn.execute(
                "SELECT customer_id, xmin::text FROM customers WHERE customer_id <= %s ORDER BY 1",
                (all_ids[9],),
            ).fetchall()
            == done
        )
        assert len(audit_rows(conn, RUN1.run_id)) == 10 and len(audit_rows(conn, RUN2.run_id)) == 82


def test_failure_inside_a_batch_writes_nothing_of_that_batch(loaded, monkeypatch):
    calls = {"n": 0}
    real = phones.validate_phone

    def flaky(raw, region):
        calls["n"] += 1
        if calls["n"] == 15:  # in the second batch of 10
            raise MemoryError("simulated")
        return real(raw, region)

    monkeypatch.setattr(phones, "validate_phone", flaky)
    with psycopg.connect(loaded) as conn:
        with pytest.raises(MemoryError):
            validate_phones(conn, batch_size=10, actor=RUN1)
        assert (
            conn.execute("SELECT count(*) FROM customers WHERE phone_validated_at IS NOT NULL").fetchone()[0]
            == 10
        )
        assert conn.execute("SELECT to_regclass('pg_temp.tmp_phone_validation')").fetchone()[0] is None
        monkeypatch.setattr(phones, "validate_phone", real)
        assert validate_phones(conn, batch_size=10, actor=RUN1).validated == 82


def test_phone_changed_between_read_and_write_is_left_for_the_next_run(loaded, monkeypatch):
    """Another session changes a phone after the step read it and before it wrote the result: the
    stale result is not written and the customer stays a candidate for the next run."""
    real = phones.validate_phone
    with psycopg.connect(loaded) as conn, psycopg.connect(loaded, autocommit=True) as other:
        target, old_phone = conn.execute(
            "SELECT customer_id, phone FROM customers WHERE phone IS NOT NULL ORDER BY customer_id LIMIT 1"
        ).fetchone()
        conn.commit()

        def concurrent_edit(raw, region):
            if raw == old_phone:
                other.execute(
                    "UPDATE customers SET phone = '+46 8 555 12 34' WHERE customer_id = %s", (target,)
                )
            return real(raw, region)

        monkeypatch.setattr(phones, "validate_phone", concurrent_edit)
        counts = validate_phones(conn, actor=RUN1)
        assert (counts.candidates, counts.validated, counts.changed_meanwhile) == (92, 91, 1)
        row = conn.execute(
            "SELECT phone, phone_validated_at, phone_e164 FROM customers WHERE customer_id = %s", (target,)
        ).fetchone()
        assert row == ("+46 8 555 12 34", None, None)
        monkeypatch.setattr(phones, "validate_phone", real)
        counts = validate_phones(conn, actor=RUN1)
        assert (counts.candidates, counts.validated) == (1, 1)
        assert (
            conn.execute("SELECT phone_e164 FROM customers WHERE customer_id = %s", (target,)).fetchone()[0]
            == "+4685551234"
        )


def test_batch_size_must_be_positive(conn):
    with pytest.raises(ValueError):
        validate_phones(conn, batch_size=0)


def test_country_is_that_of_the_first_address_with_a_known_country(loaded):
    with psycopg.connect(loaded) as conn:
        ids = dict(
            conn.execute(
                "INSERT INTO customers (company_name, phone) VALUES ('Two Homes AB', '0921-12 3555'),"
                " ('Unknown First AB', '0921-12 3555') RETURNING company_name, customer_id"
            ).fetchall()
        )
        # Two Homes: Sweden first, then Germany; Unknown First: unresolved country first, then Sweden
        conn.execute(
            "INSERT INTO addresses (customer_id, st_addr, country_code, source_key) VALUES"
            " (%(a)s, 'x', 'SWE', 'a1'), (%(a)s, 'y', 'DEU', 'a2'), (%(b)s, 'z', NULL, 'b1'),"
            " (%(b)s, 'w', 'SWE', 'b2')",
            {"a": ids["Two Homes AB"], "b": ids["Unknown First AB"]},
        )
        conn.commit()
        validate_phones(conn, actor=RUN1)
        got = dict(
            conn.execute(
                "SELECT company_name, phone_checked_input || ' ' || coalesce(phone_e164, '-')"
                " FROM customers WHERE customer_id = ANY(%s)",
                (list(ids.values()),),
            ).fetchall()
        )
    assert got == {
        "Two Homes AB": "0921-12 3555|SE +46921123555",
        "Unknown First AB": "0921-12 3555|SE +46921123555",
    }


def test_works_on_an_autocommit_connection_too(loaded):
    with psycopg.connect(loaded, autocommit=True) as conn:
        counts = validate_phones(conn, batch_size=30, actor=RUN1)
        assert (counts.validated, counts.batches) == (92, 4)
        assert len(audit_rows(conn, RUN1.run_id)) == 92
        assert validate_phones(conn, batch_size=30, actor=RUN1).validated == 0
