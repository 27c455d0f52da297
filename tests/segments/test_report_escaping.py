"""Values from the data in every output format of the report: a customer name with a line break,
HTML and Markdown in it stays one inert cell in the task log table, the Markdown and the HTML."""

from __future__ import annotations

from vehicle_sales.segments.report import (
    _md,
    _movers_html,
    _movers_markdown,
    format_table,
    one_line,
    segment_summary,
)

EVIL = "Evil\n```\n<script>alert(1)</script> | Co\t`x`"


def rows():
    return [
        ("Champion", 1, 1, EVIL, 10, 5, 1000.0, True),
        ("Champion", 1, 2, "Plain AB", 20, 3, 500.0, False),
        ("Hibernating", 2, 3, "Sleepy Ltd", 300, 1, 50.0, True),
    ]


def test_the_log_and_markdown_table_keeps_a_hostile_medoid_name_on_one_line():
    _, summary = segment_summary(rows())
    table = format_table(summary)
    assert len(table.splitlines()) == 2 + 2  # header, rule, two segments: nothing broke out
    assert "```" not in table and "\n<script>" not in table
    assert one_line(EVIL) == "Evil ''' <script>alert(1)</script> | Co 'x'"


def test_markdown_and_html_cells_escape_html_pipes_and_line_breaks():
    cell = _md(EVIL)
    assert "<script>" not in cell and "&lt;script&gt;" in cell and "\n" not in cell and "\\|" in cell
    mover = {"company_name": EVIL, "from_segment": "Champion", "to_segment": "Hibernating", "revenue": 1.0}
    md = _movers_markdown("Moved down", [mover])
    assert "<script>" not in md and all(
        line.count("|") - line.count("\\|") == 5 for line in md.splitlines()[2:]
    )
    page = _movers_html("Moved down", [mover])
    assert "<script>" not in page and "&lt;script&gt;" in page
