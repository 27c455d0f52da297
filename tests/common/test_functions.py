"""The warehouse's SQL functions (sql/schema/functions.sql), on a real PostgreSQL."""

from __future__ import annotations

import random

# identity_text's definition in full, without its shortcut for plain ASCII names
IDENTITY = (
    "nullif(btrim(regexp_replace(regexp_replace(normalize(t, NFKC),"
    " '[\\u00AD\\u200B-\\u200F\\u2060-\\u2064\\uFEFF]', '', 'g'), '[[:space:]]+', ' ', 'g')), '')"
)


def test_identity_text_shortcut_gives_what_the_full_definition_gives(conn):
    """Plain ASCII names skip the work; every text gets what the whole definition gives it."""
    fixed = [
        "Mini Gifts Distributors Ltd.",
        " Mini Gifts",
        "Mini  Gifts",
        "Mini\tGifts",
        "Mini\u00a0Gifts",
        "Mini\u200bGifts",
        "\ufb01ne Models",
        "\uff21utos",
        "",
        "   ",
        "a~b",
        "Toys4GrownUps.com",
        "Gifts!",
        "Cafe\u0301",
        "Café",
        "Euro+ Shopping Channel ",
        "x\u00ad",
        "\u2003em",
    ]
    rng = random.Random(11)
    alphabet = ["a", "Z", "1", " ", "  ", "\t", "~", "!", "\u00a0", "\u200b", "é", "\u0301", "\uff21", "\x7f"]
    texts = fixed + ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))) for _ in range(3000)]
    rows = conn.execute(
        f"SELECT t, identity_text(t), {IDENTITY} FROM unnest(%s::text[]) AS u(t)", (texts,)
    ).fetchall()
    assert [(t, full) for t, _, full in rows] == [(t, got) for t, got, _ in rows]
    got = dict((t, g) for t, g, _ in rows)
    assert got["Mini  Gifts"] == got["Mini\u00a0Gifts"] == got["Mini\tGifts"] == "Mini Gifts"
    assert got["Mini\u200bGifts"] == "MiniGifts" and got["\ufb01ne Models"] == "fine Models"
    assert got["   "] is None and got[""] is None


def test_identity_text_is_inlined_into_the_query_and_keeps_null(conn):
    """The planner puts identity_text's body into the calling query (no function call per name: it
    must not be STRICT for that), and a NULL name still has no identity."""
    assert conn.execute("SELECT identity_text(NULL), identity_text('')").fetchone() == (None, None)
    plan = "\n".join(
        r[0]
        for r in conn.execute(
            "EXPLAIN VERBOSE SELECT identity_text(t) FROM (VALUES ('Mini Gifts'), (NULL)) AS v(t)"
        ).fetchall()
    )
    assert "identity_text" not in plan and "normalize" in plan.lower(), plan
