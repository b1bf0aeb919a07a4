"""SQLite through aiosqlite, one trip to its thread per statement instead of four.

SQLAlchemy's aiosqlite adapter asks aiosqlite's thread for a cursor, then to
execute, then to fetch the rows, then to close the cursor: four trips, each a
wake-up of that thread and then of the event loop (about 0.1 ms apiece on an idle
machine, more than a short statement itself). Here the cursor, the statement, its
rows and the cursor's close are one function run on the thread, as aiosqlite's own
`execute_fetchall` does, and the cursor SQLAlchemy reads afterwards holds what the
statement left: its rows, description, row count and last row id. `bench.db_trips`
measures the saving.

It goes through aiosqlite's `Connection._execute`, its one door to the thread, as
SQLAlchemy's own adapter does to set the isolation level. Only ordinary (buffered)
cursors change; server-side cursors (`stream()`) keep aiosqlite's, since they fetch
in chunks. Statements on one connection still run one at a time (the adapter's
mutex), and errors are translated as before.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT


class _Ran:
    """What one statement left on its (already closed) sqlite3 cursor."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, cursor: sqlite3.Cursor | None = None) -> None:
        self.description = cursor.description if cursor is not None else None
        self.rowcount = cursor.rowcount if cursor is not None else -1
        self.lastrowid = cursor.lastrowid if cursor is not None else None
        self.arraysize = 1


def _run(connection: aiosqlite.Connection, call: Callable[[sqlite3.Cursor], object]
         ) -> tuple[_Ran, list[Any]]:
    """On aiosqlite's thread: a cursor, the statement, its rows, the cursor closed."""
    cursor = connection._conn.cursor()
    try:
        call(cursor)
        rows = cursor.fetchall() if cursor.description else []
        return _Ran(cursor), rows
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose every statement is one trip to aiosqlite's thread."""

    __slots__ = ()

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # No cursor is made on the thread here: each statement makes and closes its own.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _Ran()  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    async def _on_thread(self, call: Callable[[sqlite3.Cursor], object]) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._adapt_connection._execute_mutex:
            ran, rows = await connection._execute(  # type: ignore[no-untyped-call]
                _run, connection, call)
        self._cursor = ran
        self._rows = collections.deque(rows)

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        if parameters is None:
            await self._on_thread(lambda cursor: cursor.execute(operation))
        else:
            await self._on_thread(lambda cursor: cursor.execute(operation, parameters))

    async def _executemany_async(self, operation: Any,
                                 seq_of_parameters: Sequence[Any]) -> Any:
        await self._on_thread(lambda cursor: cursor.executemany(operation, seq_of_parameters))

    async def _async_soft_close(self) -> None:
        """The statement's cursor is closed already; its description stays on `_Ran`."""

    def close(self) -> None:
        self._rows.clear()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    _cursor_cls = OneTripCursor  # type: ignore[assignment]


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The aiosqlite DBAPI adapter, handing out connections with one-trip cursors."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def one_trip_dbapi() -> OneTripDBAPI:
    """The `module` for `create_async_engine` on a `sqlite+aiosqlite` URL."""
    return OneTripDBAPI(aiosqlite, sqlite3)
