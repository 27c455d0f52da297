"""The advisory locks that serialise steps across concurrent runs: the one definition of their keys.

A lock is named here once; Python takes it with :func:`take_xact_lock` / :func:`session_lock`, and
SQL templates with the ``advisory_xact_lock`` macro (see :mod:`vehicle_sales.common.sql`), which
renders the same key. PostgreSQL hashes the text key (``hashtext``) into the lock's number.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

KEY_PREFIX = "vehicle_sales_rfm:"


class Lock(StrEnum):
    """One member per serialised step."""

    SCHEMA = "schema"  # create_schema: migrations race on DDL
    INGEST = "ingest"  # stage_raw and refresh_core: raw_ids are read only once every earlier one is committed
    PHONES = "phone_val"  # validate_phones: concurrent runs take turns batch by batch
    GEOCODE = "geocode"  # geocode_addresses: one run at a time pays for the service
    SEGMENTS = "segments"  # load_segments: the current segments follow the latest as-of date

    @property
    def key(self) -> str:
        """The text PostgreSQL hashes into the lock number."""
        return KEY_PREFIX + self.value


def xact_lock_sql(lock: Lock | str) -> str:
    """The SQL statement (without ';') that takes ``lock`` until the end of the transaction."""
    return f"SELECT pg_advisory_xact_lock(hashtext('{Lock(lock).key}'))"


def take_xact_lock(conn: psycopg.Connection, lock: Lock | str) -> None:
    """Block until this transaction holds ``lock`` (released at commit or rollback)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (Lock(lock).key,))


@contextmanager
def session_lock(conn: psycopg.Connection, lock: Lock | str) -> Iterator[None]:
    """Hold ``lock`` for the session across several transactions (released on exit, or when the
    connection dies). Whatever is uncommitted on ``conn`` when the block exits is rolled back."""
    key = Lock(lock).key
    conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
    try:
        yield
    finally:
        import psycopg

        try:
            conn.rollback()
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))
            conn.commit()
        except psycopg.Error:  # pragma: no cover - connection lost; the session lock died with it
            pass
