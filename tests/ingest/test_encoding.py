"""Encoding detection decides by evidence and never yields mojibake."""

from __future__ import annotations

import codecs

import pytest

from vehicle_sales.ingest.encoding import choose_encoding, detect_encoding

WORDS = (
    "Berguvsvägen 8, Luleå S-958 22\nRambla de Cataluña, 23, Barcelona\nSmagsløget 45, Århus\n"
    "Mehrheimerstr. 369, Köln\nÅkergatan 24, Bräcke\nGenève, Grenzacherweg 237\n"
)


@pytest.mark.parametrize("codec", ["cp1252", "cp850", "utf-8"])
def test_detected_codec_decodes_the_street_names_intact(codec):
    data = WORDS.encode(codec)
    choice = detect_encoding(data)
    assert data.decode(choice.codec) == WORDS, choice


def test_latin1_file_decodes_identically_with_the_chosen_codec():
    data = WORDS.encode("latin-1")
    assert data.decode(detect_encoding(data).codec) == WORDS


def test_utf8_bom_is_recognised_and_stripped():
    data = codecs.BOM_UTF8 + WORDS.encode("utf-8")
    choice = detect_encoding(data)
    assert choice.codec == "utf-8-sig"
    assert data.decode(choice.codec) == WORDS


def test_cp850_text_is_not_taken_for_cp1252_box_drawing():
    data = "Berguvsvägen;Rambla de Cataluña".encode("cp850")
    assert detect_encoding(data).codec == "cp850"


def test_ascii_only_is_utf8():
    assert detect_encoding(b"ORDERNUMBER,STATUS\n10100,Shipped\n").codec == "utf-8"


def test_reason_is_logged_with_scores():
    choice = detect_encoding(WORDS.encode("cp1252"))
    assert "cp1252=" in choice.reason and "cp850=" in choice.reason


def test_override_variable_wins_and_unknown_codec_is_a_clear_error(tmp_path):
    f = tmp_path / "x.csv"
    f.write_bytes(WORDS.encode("cp850"))
    assert choose_encoding(f, "cp850").codec == "cp850"
    assert choose_encoding(f, "auto").codec == "cp850"
    with pytest.raises(ValueError, match="sales_source_encoding 'klingon' is not a known codec"):
        choose_encoding(f, "klingon")


def test_windows_typographic_punctuation_is_evidence_for_cp1252_not_dos_850(tmp_path):
    """Quotes, apostrophes and dashes (0x91-0x97) next to accented names: decoded as cp850 they would
    be letters in odd places (ôMiniö, dÆOr, ' û ')."""
    from support import row, write_csv

    names = ["“Mini” Classics", "Toys – Co", "d’Artagnan Models", "O’Neil Hobbies", "Café Modelos"]
    streets = ["Rue d’Orléans", "“Euro+” Shopping — Channel"]
    # (scored on letters alone, these bytes read better as cp850: that chose DOS 850 before)
    rows = [
        row(ORDERNUMBER=str(10100 + i), CUSTOMERNAME=name, ADDRESSLINE1=streets[i % 2], CITY="Paris")
        for i, name in enumerate(names)
    ]
    path = write_csv(tmp_path / "typo.csv", rows, encoding="cp1252")
    assert choose_encoding(path, "auto").codec == "cp1252"


def test_a_legacy_file_with_utf8_lines_is_decoded_per_line_with_a_count(conn, tmp_path):
    from support import ingest, row, write_csv

    legacy = [
        row(ORDERNUMBER=str(10100 + i), CITY="Luleå", CUSTOMERNAME="Berglunds snabbköp") for i in range(4)
    ]
    path = write_csv(tmp_path / "mixed.csv", legacy, encoding="cp1252")
    utf8 = ",".join(row(ORDERNUMBER="10200", CUSTOMERNAME="Straße Modelle", CITY="Köln")).encode("utf-8")
    path.write_bytes(path.read_bytes() + utf8 + b"\r\n")
    choice = choose_encoding(path, "auto")
    assert (choice.codec, choice.mixed) == ("cp1252", True) and "mixed" in choice.reason
    for fast in (True, False):
        conn.execute("TRUNCATE raw_orders_csv, raw_orders_rejects, source_files CASCADE")
        conn.commit()
        counts = ingest(conn, path, choice.codec, use_fast_path=fast, mixed=True)
        assert (counts.read, counts.loaded, counts.utf8_lines) == (5, 5, 1)
        names = {r for (r,) in conn.execute("SELECT DISTINCT customername FROM raw_orders_csv")}
        cities = {r for (r,) in conn.execute("SELECT DISTINCT city FROM raw_orders_csv")}
        assert names == {"Berglunds snabbköp", "Straße Modelle"} and cities == {"Luleå", "Köln"}


def test_high_byte_words_are_the_words_the_regular_expression_finds():
    """The numpy search gives exactly the words, in the order, that the regular expression defining
    them gives: on random bytes of letters, high bytes, separators, at the data's edges, with limits."""
    import random

    from vehicle_sales.ingest.encoding import _WORD_WITH_HIGH_BYTES, high_byte_words

    def by_regex(data: bytes, limit: int) -> list[bytes]:
        seen: dict[bytes, None] = {}
        for m in _WORD_WITH_HIGH_BYTES.finditer(data):
            seen.setdefault(m.group(0), None)
            if len(seen) >= limit:
                break
        return list(seen)

    rng = random.Random(5)
    alphabet = b'abZ\x80\xe9\xff ,1\n\r"-'
    for _ in range(5000):
        data = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        limit = rng.randint(1, 6)
        assert high_byte_words(data, limit) == by_regex(data, limit), (data, limit)
    # words about as long as the 32 bytes compared in numpy, shorter and longer, repeated (the
    # numpy search keeps each short word's first occurrence only)
    words = [
        bytes(rng.choice(b"aZ\x80\xe9") for _ in range(rng.choice([1, 7, 8, 31, 32, 33, 40, 70])))
        for _ in range(40)
    ]
    for _ in range(500):
        data = b"".join(
            rng.choice(words) + rng.choice([b" ", b",", b"1", b"\n"]) for _ in range(rng.randint(0, 30))
        )
        limit = rng.randint(1, 30)
        assert high_byte_words(data, limit) == by_regex(data, limit), (data, limit)
    # words that differ in one byte only, anywhere up to the bound and past it
    stem = "Ä" + "a" * 40
    twins = [(stem[:n] + end).encode("cp1252") for n in (1, 8, 15, 23, 30, 31, 32, 40) for end in "bcé"]
    data = b" ".join(twins * 3)
    assert high_byte_words(data) == by_regex(data, 20_000) == twins
    export = "Berguvsvägen 8,Luleå,Åsa Ñandú\r\n".encode("cp1252") * 50
    assert (
        high_byte_words(export)
        == by_regex(export, 20_000)
        == [
            "Berguvsvägen".encode("cp1252"),
            "Luleå".encode("cp1252"),
            "Åsa".encode("cp1252"),
            "Ñandú".encode("cp1252"),
        ]
    )
