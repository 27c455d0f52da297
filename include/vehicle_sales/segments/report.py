"""The per-run segment report: a table in the task log, plus Markdown + HTML with PNG charts --
segments, the transition matrix against the previous comparable snapshot, the trend over as-of
dates and the biggest movers -- written to the reports folder and stored in the warehouse with the
run (``rfm_report_file``), so that any machine can read it (the RFM page of the UI links to it)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from vehicle_sales.common import sql
from vehicle_sales.insight import queries


@dataclass(frozen=True)
class Report:
    folder: Path
    markdown: Path
    html: Path
    charts: list[Path]
    table_text: str
    previous_run_id: int | None = None
    moved_up: int = 0
    moved_down: int = 0
    stored_files: int = 0


def segment_summary(rows):
    """Per segment: customers, shares, mean/median R F M and the medoid customer (pure, pandas)."""
    import pandas as pd

    df = pd.DataFrame(
        rows,
        columns=[
            "segment",
            "value_rank",
            "customer_id",
            "company_name",
            "recency_days",
            "frequency",
            "monetary",
            "is_medoid",
        ],
    )
    total_customers, total_revenue = len(df), df["monetary"].sum()
    out = []
    for (segment, rank), g in df.groupby(["segment", "value_rank"], sort=False):
        medoid = g.loc[g["is_medoid"], "company_name"].map(one_line)
        out.append(
            {
                "segment": segment,
                "value_rank": rank,
                "customers": len(g),
                "customer_share": len(g) / total_customers if total_customers else 0.0,
                "revenue_share": g["monetary"].sum() / total_revenue if total_revenue else 0.0,
                "recency_mean": g["recency_days"].mean(),
                "recency_median": g["recency_days"].median(),
                "frequency_mean": g["frequency"].mean(),
                "frequency_median": g["frequency"].median(),
                "monetary_mean": g["monetary"].mean(),
                "monetary_median": g["monetary"].median(),
                "medoid": medoid.iloc[0] if len(medoid) else "",
            }
        )
    summary = pd.DataFrame(out).sort_values("value_rank").reset_index(drop=True)
    return df, summary


def one_line(text) -> str:
    """A value from the data on one line: line breaks, tabs and other control characters become
    spaces (a customer name must not end the report's code block or forge a log line), runs of
    white space one space; backticks become quotes (no code fence can open)."""
    cleaned = "".join(" " if (ord(ch) < 32 or 127 <= ord(ch) < 160) else ch for ch in str(text))
    return " ".join(cleaned.replace("`", "'").split())


def format_table(summary) -> str:
    """A fixed-width table for the task log."""
    header = (
        f"{'segment':<22}{'customers':>10}{'share':>8}{'revenue':>9}{'R mean':>8}{'R med':>7}"
        f"{'F mean':>8}{'F med':>7}{'M mean':>12}{'M med':>12}  medoid"
    )
    lines = [header, "-" * len(header)]
    for r in summary.itertuples():
        lines.append(
            f"{r.segment:<22}{r.customers:>10}{r.customer_share:>8.1%}{r.revenue_share:>9.1%}"
            f"{r.recency_mean:>8.0f}{r.recency_median:>7.0f}{r.frequency_mean:>8.1f}{r.frequency_median:>7.0f}"
            f"{r.monetary_mean:>12,.0f}{r.monetary_median:>12,.0f}  {r.medoid}"
        )
    return "\n".join(lines)


def folder_name(as_of: str, dag_run_id: str) -> str:
    """A filesystem-safe folder per run: '<as_of>__<run id>'."""
    return f"{as_of}__" + re.sub(r"[^A-Za-z0-9_.-]+", "_", dag_run_id)[:120]


def _charts(df, summary, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary["segment"])
    sizes = folder / "segment_sizes.png"
    fig, ax = plt.subplots(figsize=(7, 3.6))
    x = range(len(names))
    ax.bar([i - 0.2 for i in x], summary["customer_share"] * 100, width=0.4, label="customers %")
    ax.bar([i + 0.2 for i in x], summary["revenue_share"] * 100, width=0.4, label="revenue %")
    ax.set_xticks(list(x), names, rotation=15)
    ax.set_ylabel("% of total")
    ax.set_title("Segment sizes and revenue share")
    ax.legend()
    fig.tight_layout()
    fig.savefig(sizes, dpi=110)
    plt.close(fig)

    dists = folder / "rfm_distributions.png"
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
    for ax, col, title in zip(
        axes,
        ("recency_days", "frequency", "monetary"),
        ("Recency (days)", "Frequency (orders)", "Monetary (sales)"),
        strict=True,
    ):
        ax.boxplot([df.loc[df["segment"] == n, col] for n in names])
        ax.set_xticks(range(1, len(names) + 1), names, rotation=20, fontsize=8)
        ax.set_title(title)
    fig.suptitle("R / F / M by segment")
    fig.tight_layout()
    fig.savefig(dists, dpi=110)
    plt.close(fig)
    return [sizes, dists]


CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".png": "image/png",
}


def _insight_charts(matrix: queries.Matrix, trend: list[dict], folder: Path) -> list[Path]:
    """transition_matrix.png (counts, revenue below) and trend.png (shares by as-of date)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out = []
    counts = np.array([[matrix.customers(r, c) for c in matrix.columns] for r in matrix.rows], dtype=float)
    path = folder / "transition_matrix.png"
    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * len(matrix.columns), 1.2 + 0.7 * len(matrix.rows)))
    ax.imshow(counts, cmap="Blues", aspect="auto")
    for i, r in enumerate(matrix.rows):
        for j, c in enumerate(matrix.columns):
            n = matrix.customers(r, c)
            color = "white" if counts.max() and n > counts.max() * 0.6 else "black"
            text = f"{n}\n{matrix.revenue(r, c):,.0f}" if n else "0"
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=15, fontsize=8)
    ax.set_yticks(range(len(matrix.rows)), matrix.rows, fontsize=8)
    ax.set_xlabel("to (this run)")
    ax.set_ylabel("from (previous snapshot)")
    ax.set_title("Customers (and revenue) moving between segments")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    out.append(path)

    path = folder / "trend.png"
    dates = sorted({t["as_of_date"] for t in trend})
    names = [n for _, n in sorted({(t["value_rank"] or 99, t["segment"]) for t in trend})]
    by = {(t["as_of_date"], t["segment"]): t for t in trend}
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for ax, key, title in zip(
        axes, ("customer_share", "revenue_share"), ("customers", "revenue"), strict=True
    ):
        for name in names:
            ys = [
                100 * by[(d, name)][key] if (d, name) in by and by[(d, name)][key] is not None else None
                for d in dates
            ]
            ax.plot(dates, [np.nan if y is None else y for y in ys], marker="o", label=name)
        ax.set_title(f"Share of {title} by as-of date")
        ax.set_ylabel("%")
        ax.set_ylim(0, 100)
        ax.set_xticks(dates if len(dates) <= 12 else dates[:: max(1, len(dates) // 12)])
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    out.append(path)
    return out


def _md(text) -> str:
    """A value inside a Markdown table cell (customer names are user data): on one line, HTML
    escaped (Markdown passes raw HTML through), pipes and backslashes escaped."""
    return html.escape(one_line(text)).replace("\\", "\\\\").replace("|", "\\|")


def _matrix_markdown(matrix: queries.Matrix) -> str:
    header = "| from \\ to | " + " | ".join(_md(c) for c in matrix.columns) + " |"
    lines = [header, "|" + " --- |" * (len(matrix.columns) + 1)]
    for r in matrix.rows:
        cells = [
            f"{matrix.customers(r, c)} ({matrix.revenue(r, c):,.0f})" if matrix.customers(r, c) else "0"
            for c in matrix.columns
        ]
        lines.append(f"| {_md(r)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _matrix_html(matrix: queries.Matrix) -> str:
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in matrix.columns)
    body = []
    for r in matrix.rows:
        cells = "".join(
            f"<td>{matrix.customers(r, c)}<br><small>{matrix.revenue(r, c):,.0f}</small></td>"
            if matrix.customers(r, c)
            else "<td>0</td>"
            for c in matrix.columns
        )
        body.append(f"<tr><th>{e(r)}</th>{cells}</tr>")
    return f"<table border='1'><tr><th>from \\ to</th>{head}</tr>{''.join(body)}</table>"


def _movers_html(title: str, movers: list[dict]) -> str:
    e = html.escape
    rows = (
        "".join(
            f"<tr><td>{e(str(m['company_name']))}</td><td>{e(m['from_segment'])}</td><td>{e(m['to_segment'])}</td>"
            f"<td>{float(m['revenue']):,.0f}</td></tr>"
            for m in movers
        )
        or "<tr><td colspan='4'>nobody</td></tr>"
    )
    return (
        f"<h3>{e(title)}</h3><table border='1'><tr><th>customer</th><th>from</th><th>to</th><th>revenue</th></tr>"
        f"{rows}</table>"
    )


def _movers_markdown(title: str, movers: list[dict]) -> str:
    lines = [f"**{title}**", "", "| customer | from | to | revenue |", "| --- | --- | --- | ---: |"]
    lines += [
        f"| {_md(m['company_name'])} | {_md(m['from_segment'])} | {_md(m['to_segment'])} | {float(m['revenue']):,.0f} |"
        for m in movers
    ] or ["| nobody | | | |"]
    return "\n".join(lines)


def store_report(conn: psycopg.Connection, run_id: int, files: list[Path]) -> int:
    """Store the report's files with its run (replacing an earlier version); committed."""
    conn.execute("DELETE FROM rfm_report_file WHERE run_id = %s", (run_id,))
    for path in files:
        sql.run(
            conn,
            "insight/store_report.sql",
            {
                "run_id": run_id,
                "name": path.name,
                "content_type": CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
                "content": path.read_bytes(),
            },
        )
    conn.commit()
    return len(files)


def write_report(conn: psycopg.Connection, run_id: int, reports_dir: Path, dag_run_id: str) -> Report:
    as_of, n_customers, k, algorithm, sil, ch, dbi, loss = sql.run(
        conn, "segments/report_run.sql", {"run_id": run_id}
    ).fetchone()
    df, summary = segment_summary(sql.run(conn, "segments/report_rows.sql", {"run_id": run_id}).fetchall())
    previous = next((r for r in queries.runs(conn) if r["run_id"] == run_id), None)
    prev_id = previous["previous_run_id"] if previous else None
    prev_as_of = previous["previous_as_of_date"] if previous else None
    pairs = queries.transitions(conn, prev_id, run_id)
    matrix = queries.transition_matrix(pairs)
    trend = [t for t in queries.trend(conn, run_id) if t["as_of_date"] <= as_of]
    down = queries.movers(conn, prev_id, run_id, "down") if prev_id else []
    up = queries.movers(conn, prev_id, run_id, "up") if prev_id else []
    n_down = sum(p["customers"] for p in pairs if p["movement"] == "down")
    n_up = sum(p["customers"] for p in pairs if p["movement"] == "up")

    folder = reports_dir / folder_name(as_of.isoformat(), dag_run_id)
    folder.mkdir(parents=True, exist_ok=True)
    charts = _charts(df, summary, folder) + _insight_charts(matrix, trend, folder)
    table = format_table(summary)
    metrics = (
        f"silhouette {sil:.3f}, Calinski-Harabasz {ch:.1f}, Davies-Bouldin {dbi:.3f}, loss {loss:.2f}"
        if None not in (sil, ch, dbi, loss)
        else "metrics unavailable (too few customers per segment)"
    )
    title = f"RFM segments as of {as_of} (rfm_run {run_id})"
    since = (
        f"Since the previous comparable snapshot, {prev_as_of} (rfm_run {prev_id}): {n_up} customers moved up, "
        f"{n_down} down (counts, with revenue in brackets)."
        if prev_id
        else "No earlier comparable snapshot: every customer is new."
    )
    md = folder / "report.md"
    md.write_text(
        f"# {title}\n\n{n_customers} customers, {k} segments, {algorithm}; {metrics}.\n\n"
        f"```\n{table}\n```\n\n![Segment sizes](segment_sizes.png)\n\n![RFM by segment](rfm_distributions.png)\n\n"
        f"## Transitions\n\n{since}\n\n{_matrix_markdown(matrix)}\n\n![Transitions](transition_matrix.png)\n\n"
        + (
            f"## Biggest movers\n\n{_movers_markdown('Moved down', down)}\n\n{_movers_markdown('Moved up', up)}\n\n"
            if prev_id
            else ""
        )
        + f"## Trend\n\n{len({t['as_of_date'] for t in trend})} as-of dates.\n\n![Trend](trend.png)\n",
        encoding="utf-8",
    )
    page = folder / "report.html"
    page.write_text(
        f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1><p>{n_customers} customers, {k} segments, {html.escape(str(algorithm))};"
        f" {html.escape(metrics)}.</p>"
        + summary.to_html(index=False, float_format=lambda v: f"{v:,.3f}")
        + "<p><img src='segment_sizes.png'><br><img src='rfm_distributions.png'></p>"
        + f"<h2>Transitions</h2><p>{html.escape(since)}</p>{_matrix_html(matrix)}"
        + "<p><img src='transition_matrix.png'></p>"
        + (
            f"<h2>Biggest movers</h2>{_movers_html('Moved down', down)}{_movers_html('Moved up', up)}"
            if prev_id
            else ""
        )
        + "<h2>Trend</h2><p><img src='trend.png'></p>",
        encoding="utf-8",
    )
    stored = store_report(conn, run_id, [page, md, *charts])
    return Report(folder, md, page, charts, table, prev_id, n_up, n_down, stored)
