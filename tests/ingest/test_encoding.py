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
