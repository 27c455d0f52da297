"""The data-quality gates before publishing (sql/checks/quality_gates.sql), on a real warehouse."""

from __future__ import annotations

from support import ingest, loaded_run, refresh_core, row, write_csv
from vehicle_sales.common.quality import gate_failures


def test_gates_pass_on_a_clean_warehouse_and_name_what_breaks_them(conn, tmp_path):
    ingest(conn, write_csv(tmp_path / "a.csv", [row(ORDERNUMBER=str(10100 + i)) for i in range(3)]))
    refresh_core(conn)
    ids = {"A": conn.execute("SELECT customer_id FROM customers").fetchone()[0]}
    run = loaded_run(conn, ids, "2004-01-31", {"A": ("Champion", 100)})
    n, failed = gate_failures(conn, run)
    assert (n, failed) == (5, [])

    conn.execute("UPDATE source_files SET rows_loaded = rows_loaded - 1")  # a line gone missing
    conn.execute("DELETE FROM rfm_fit_assignment WHERE run_id = %s", (run,))  # a customer unassigned
    failed = gate_failures(conn, run)[1]
    assert len(failed) == 3, failed
    assert failed[0].startswith("every staged file is accounted for") and "(3 read, 2 + 0 + 0)" in failed[0]
    assert "1 customers in the snapshot, 0 assigned" in failed[1]
    assert failed[2].startswith("segment sizes sum to the snapshot")
    conn.rollback()
