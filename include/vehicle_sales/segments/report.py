"""The per-run segment report: a table in the task log, plus Markdown + HTML with PNG charts."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from vehicle_sales.common import sql


@dataclass(frozen=True)
class Report:
    folder: Path
    markdown: Path
    html: Path
    charts: list[Path]
    table_text: str


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
        medoid = g.loc[g["is_medoid"], "company_name"]
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


def write_report(conn: psycopg.Connection, run_id: int, reports_dir: Path, dag_run_id: str) -> Report:
    as_of, n_customers, k, algorithm, sil, ch, dbi, loss = sql.run(
        conn, "segments/report_run.sql", {"run_id": run_id}
    ).fetchone()
    df, summary = segment_summary(sql.run(conn, "segments/report_rows.sql", {"run_id": run_id}).fetchall())
    folder = reports_dir / folder_name(as_of.isoformat(), dag_run_id)
    folder.mkdir(parents=True, exist_ok=True)
    charts = _charts(df, summary, folder)
    table = format_table(summary)
    metrics = (
        f"silhouette {sil:.3f}, Calinski-Harabasz {ch:.1f}, Davies-Bouldin {dbi:.3f}, loss {loss:.2f}"
        if None not in (sil, ch, dbi, loss)
        else "metrics unavailable (too few customers per segment)"
    )
    title = f"RFM segments as of {as_of} (rfm_run {run_id})"
    md = folder / "report.md"
    md.write_text(
        f"# {title}\n\n{n_customers} customers, {k} segments, {algorithm}; {metrics}.\n\n"
        f"```\n{table}\n```\n\n![Segment sizes](segment_sizes.png)\n\n![RFM by segment](rfm_distributions.png)\n",
        encoding="utf-8",
    )
    page = folder / "report.html"
    page.write_text(
        f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1><p>{n_customers} customers, {k} segments, {html.escape(str(algorithm))};"
        f" {html.escape(metrics)}.</p>"
        + summary.to_html(index=False, float_format=lambda v: f"{v:,.3f}")
        + "<p><img src='segment_sizes.png'><br><img src='rfm_distributions.png'></p>",
        encoding="utf-8",
    )
    return Report(folder, md, page, charts, table)
