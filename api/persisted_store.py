"""Persisted GraphQL documents in the database: shared by replicas, bounded.

Documents are content-addressed (the key is their SHA-256), so what a replica once
read never changes and can be kept in a small in-process cache; only its absence
is always asked of the database, since another replica may have learnt it since.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db.models import PersistedQuery

_CACHED = 1024  # documents kept in memory per process
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class StoredQuery:
    document: str
    registered: bool


@dataclass(frozen=True, slots=True)
class Registration:
    added: int  # new documents
    promoted: int  # known from clients before, now registered
    known: int  # registered already


class PersistedQueryStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, max_entries: int) -> None:
        self.sessions = sessions
        self.max_entries = max_entries
        self._cache: OrderedDict[str, StoredQuery] = OrderedDict()
        self._allowed: OrderedDict[str, None] = OrderedDict()  # registered canonical hashes

    async def find(self, sha256: str, *, registered_only: bool = False) -> StoredQuery | None:
        """The document of a hash (only a registered one when `registered_only`)."""
        cached = self._cache.get(sha256)
        if cached is not None and (cached.registered or not registered_only):
            return cached
        async with self.sessions() as session:
            row = await session.get(PersistedQuery, sha256)
            if row is None:
                return None
            found = StoredQuery(row.document, row.registered)
        _keep(self._cache, sha256, found)
        return found if found.registered or not registered_only else None

    async def is_registered_form(self, canonical_sha256: str) -> bool:
        """Is a registered document of this canonical form on the allow-list?"""
        if canonical_sha256 in self._allowed:
            return True
        async with self.sessions() as session:
            hit = await session.scalar(
                select(PersistedQuery.sha256).where(
                    PersistedQuery.canonical_sha256 == canonical_sha256,
                    PersistedQuery.registered.is_(True)).limit(1))
        if hit is None:
            return False
        _keep(self._allowed, canonical_sha256, None)
        return True

    async def remember(self, sha256: str, document: str, canonical_sha256: str) -> None:
        """Keep a document a client taught us; forget the oldest past the bound."""
        try:
            async with self.sessions() as session, session.begin():
                if await session.get(PersistedQuery, sha256) is not None:
                    return
                session.add(PersistedQuery(sha256=sha256, document=document,
                                           canonical_sha256=canonical_sha256))
        except IntegrityError:
            return  # another replica (or request) stored it first: the same document
        _keep(self._cache, sha256, StoredQuery(document, False))
        await self._forget_oldest()

    async def _forget_oldest(self) -> None:
        async with self.sessions() as session, session.begin():
            remembered = PersistedQuery.registered.is_(False)
            count = await session.scalar(select(func.count()).where(remembered)) or 0
            if count <= self.max_entries:
                return
            oldest = (select(PersistedQuery.sha256).where(remembered)
                      .order_by(PersistedQuery.created_at, PersistedQuery.sha256)
                      .limit(count - self.max_entries))
            gone = list(await session.scalars(oldest))
            await session.execute(delete(PersistedQuery).where(
                PersistedQuery.sha256.in_(gone), remembered))
        for sha256 in gone:
            self._cache.pop(sha256, None)

    async def register(self, entries: Iterable[tuple[str, str, str]]) -> Registration:
        """Put (sha256, document, canonical sha256) on the allow-list, all or none.

        Replicas (or `serve --workers`) starting together register the same manifest at
        once: the one whose insert loses the race registers again and finds them known."""
        listed = list(entries)
        try:
            return await self._register(listed)
        except IntegrityError:
            return await self._register(listed)

    async def _register(self, entries: Iterable[tuple[str, str, str]]) -> Registration:
        added = promoted = known = 0
        async with self.sessions() as session, session.begin():
            for sha256, document, canonical_sha256 in entries:
                row = await session.get(PersistedQuery, sha256)
                if row is None:
                    session.add(PersistedQuery(sha256=sha256, document=document,
                                               canonical_sha256=canonical_sha256,
                                               registered=True))
                    added += 1
                elif not row.registered:
                    await session.execute(update(PersistedQuery).where(
                        PersistedQuery.sha256 == sha256).values(registered=True))
                    promoted += 1
                else:
                    known += 1
        return Registration(added, promoted, known)


def _keep(cache: OrderedDict[str, V], key: str, value: V) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > _CACHED:
        cache.popitem(last=False)
