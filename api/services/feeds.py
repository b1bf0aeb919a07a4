"""Calendar feed secrets: one per user, shown once, stored only as a hash, revocable.

A calendar application cannot sign in, so the feed's address carries a secret
of its own; it reads the calendar as its owner and nothing else. Making a new
one revokes the old one, so a leaked address is closed by making another.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api import auth
from api.db import models as m
from api.db.audit import snapshot
from api.errors import ErrorCode, ServiceError
from api.services.common import Service

FEED_PREFIX = "hsf_"


def new_feed_secret() -> tuple[str, str, str]:
    """(the secret shown once, its display prefix, its digest)."""
    secret = FEED_PREFIX + secrets.token_urlsafe(32)
    return secret, secret[:10], auth.digest(secret)


class FeedService(Service):
    """The signed-in user's calendar feed."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], actor: str,
                 user_id: int | None) -> None:
        super().__init__(sessions, actor)
        if user_id is None:
            raise ServiceError(ErrorCode.FORBIDDEN, "a calendar feed belongs to a user; sign "
                               "in as one (not with a token of no user)")
        self.user_id = user_id

    async def _revoke(self, session: AsyncSession, now: datetime) -> list[int]:
        revoked = await session.execute(
            update(m.CalendarFeed).where(m.CalendarFeed.user_id == self.user_id,
                                         m.CalendarFeed.revoked_at.is_(None))
            .values(revoked_at=now).returning(m.CalendarFeed.id)
            .execution_options(synchronize_session=False))
        return [row[0] for row in revoked.all()]

    async def create(self) -> tuple[str, m.CalendarFeed]:
        secret, prefix, digest = new_feed_secret()
        now = datetime.now(UTC)
        async with self.transaction() as session:
            revoked = await self._revoke(session, now)
            row = m.CalendarFeed(user_id=self.user_id, secret_hash=digest, prefix=prefix,
                                 created_at=now)
            session.add(row)
            await session.flush()
            after = snapshot(row)
            assert after is not None
            after.pop("secret_hash", None)
            self.record(session, "feed.create", "CalendarFeed", row.id, prefix,
                        after=after | {"revoked": revoked})
        return secret, row

    async def revoke(self) -> bool:
        async with self.transaction() as session:
            revoked = await self._revoke(session, datetime.now(UTC))
            if revoked:
                self.record(session, "feed.revoke", "CalendarFeed", revoked[0], "",
                            after={"revoked": revoked})
        return bool(revoked)

    async def current(self) -> m.CalendarFeed | None:
        async with self.sessions() as session:
            found: m.CalendarFeed | None = await session.scalar(
                select(m.CalendarFeed).where(m.CalendarFeed.user_id == self.user_id,
                                             m.CalendarFeed.revoked_at.is_(None)))
            return found


async def feed_owner(sessions: async_sessionmaker[AsyncSession], secret: str) -> m.User | None:
    """The enabled user whose live feed `secret` opens, or None."""
    if not secret.startswith(FEED_PREFIX) or len(secret) > 200:
        return None
    async with sessions() as session:
        user: m.User | None = await session.scalar(
            select(m.User).join(m.CalendarFeed, m.CalendarFeed.user_id == m.User.id)
            .where(m.CalendarFeed.secret_hash == auth.digest(secret),
                   m.CalendarFeed.revoked_at.is_(None), m.User.disabled.is_(False)))
        return user
