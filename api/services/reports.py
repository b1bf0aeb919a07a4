"""Published reports: saving them, publishing them, and their read-only tokens.

A report belongs to the user who saved it and runs as that user, so a token
opens no more than its owner may read, and less when the owner loses a role or
is disabled. Owners save, edit, publish and delete their reports; an admin may
also unpublish, revoke or delete anyone's (to close a leak) but never edit one
or issue a token that would read as someone else. Token secrets are shown once
and stored as a SHA-256 digest, like API tokens and calendar feeds.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api import auth
from api.db import models as m
from api.db.audit import record
from api.domain.reports import Column
from api.errors import ErrorCode, ServiceError, bad_input
from api.permissions import Principal, manages_report
from api.services.common import Ref, Service, flush_unique

REPORT_TOKEN_PREFIX = "hsr_"
# How stale a token's last-used time may get: one write a minute, not one per fetch.
_TOUCH_EVERY = timedelta(seconds=60)


def new_report_secret() -> tuple[str, str, str]:
    """(the secret shown once, its display prefix, its digest)."""
    secret = REPORT_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return secret, secret[:10], auth.digest(secret)


@dataclass(frozen=True, slots=True)
class ReportDraft:
    """A report as checked by the graph (api/report_query.py, api/domain/reports.py)."""

    name: str
    slug: str
    description: str
    query: str
    variables: dict[str, Any]
    rows_path: str
    columns: list[Column]

    def values(self) -> dict[str, Any]:
        return {"name": self.name, "slug": self.slug, "description": self.description,
                "query": self.query, "variables": self.variables, "rows_path": self.rows_path,
                "columns": [{"path": c.dotted, "header": c.header} for c in self.columns]}


def _owner_of(principal: Principal) -> int:
    if principal.user_id is None:
        raise ServiceError(ErrorCode.FORBIDDEN, "a report belongs to a user; sign in as one "
                                                "(not with a token of no user)")
    return principal.user_id


async def revoke_report_tokens(session: AsyncSession, owner_id: int, *, actor: str,
                               reason: str) -> int:
    """Revoke the live tokens of every report of `owner_id` (audited); how many there were.

    For when the owner's own tokens go (a new password, a disabled account): whoever
    held the old password may have published a report, and its tokens read as the owner.
    """
    revoked = (await session.execute(
        update(m.ReportToken)
        .where(m.ReportToken.revoked_at.is_(None), m.ReportToken.report_id.in_(
            select(m.Report.id).where(m.Report.owner_id == owner_id)))
        .values(revoked_at=datetime.now(UTC))
        .returning(m.ReportToken.id, m.ReportToken.report_id)
        .execution_options(synchronize_session=False))).all()
    for token_id, report_id in revoked:
        record(session, actor=actor, action="report.token_revoke", entity_type="Report",
               entity_id=report_id, entity_key="", reason=reason, after={"token": token_id})
    return len(revoked)


class ReportService(Service):
    def __init__(self, sessions: async_sessionmaker[AsyncSession], principal: Principal
                 ) -> None:
        super().__init__(sessions, principal.actor)
        self.principal = principal

    async def _visible(self, session: AsyncSession, ref: Ref, *, owner_only: bool
                       ) -> m.Report:
        """The report, if the caller may act on it; someone else's is not found."""
        row = await session.get(m.Report, ref.pk)
        allowed = row is not None and (
            row.owner_id == self.principal.user_id if owner_only
            else manages_report(self.principal, row.owner_id))
        if row is None or not allowed:
            raise ref.missing("report")
        return row

    async def all_visible(self) -> list[m.Report]:
        """The caller's reports; an admin's list holds everyone's."""
        async with self.sessions() as session:
            query = select(m.Report).order_by(m.Report.name, m.Report.id)
            if not manages_report(self.principal, None):
                query = query.where(m.Report.owner_id == self.principal.user_id)
            return list(await session.scalars(query))

    async def get(self, ref: Ref) -> m.Report:
        async with self.sessions() as session:
            return await self._visible(session, ref, owner_only=False)

    async def tokens(self, report_ids: list[int]) -> dict[int, list[m.ReportToken]]:
        async with self.sessions() as session:
            rows = await session.scalars(select(m.ReportToken).where(
                m.ReportToken.report_id.in_(report_ids)).order_by(m.ReportToken.id))
        found: dict[int, list[m.ReportToken]] = {pk: [] for pk in report_ids}
        for row in rows:
            found[row.report_id].append(row)
        return found

    async def owners(self, user_ids: list[int]) -> dict[int, str]:
        async with self.sessions() as session:
            rows = await session.execute(select(m.User.id, m.User.username)
                                         .where(m.User.id.in_(user_ids)))
            return {pk: name for pk, name in rows.all()}

    async def create(self, draft: ReportDraft) -> m.Report:
        owner = _owner_of(self.principal)
        moment = datetime.now(UTC)
        async with self.transaction() as session:
            row = m.Report(owner_id=owner, created_at=moment, updated_at=moment,
                           **draft.values())
            session.add(row)
            await flush_unique(session, "input.slug")
            self.record(session, "report.create", "Report", row.id, row.slug,
                        after=draft.values())
        return row

    async def update(self, ref: Ref, draft: ReportDraft) -> m.Report:
        async with self.transaction() as session:
            row = await self._visible(session, ref, owner_only=True)
            before = {key: getattr(row, key) for key in draft.values()}
            for key, value in draft.values().items():
                setattr(row, key, value)
            row.updated_at = datetime.now(UTC)
            await flush_unique(session, "input.slug")
            self.record(session, "report.update", "Report", row.id, row.slug,
                        before=before, after=draft.values())
        return row

    async def delete(self, ref: Ref) -> int:
        async with self.transaction() as session:
            row = await self._visible(session, ref, owner_only=False)
            self.record(session, "report.delete", "Report", row.id, row.slug,
                        before={"name": row.name, "query": row.query})
            await session.delete(row)
        return ref.pk

    async def publish(self, ref: Ref, token_name: str) -> tuple[str, m.ReportToken, m.Report]:
        """Publish the report and issue a token for it (another, if it has some), from a
        signed-in session."""
        if self.principal.via != "session":
            # As for API tokens: a leaked token must not mint credentials that outlive it.
            raise ServiceError(ErrorCode.FORBIDDEN, "report tokens are issued from a "
                                                    "signed-in session, not with a token")
        name = token_name.strip()
        if not name or len(name) > 100:
            raise bad_input("a token's name has 1 to 100 characters", "tokenName")
        secret, prefix, digest = new_report_secret()
        moment = datetime.now(UTC)
        async with self.transaction() as session:
            row = await self._visible(session, ref, owner_only=True)
            row.published_at = row.published_at or moment
            token = m.ReportToken(report_id=row.id, name=name, token_hash=digest,
                                  prefix=prefix, created_by=self.actor, created_at=moment)
            session.add(token)
            await session.flush()
            self.record(session, "report.publish", "Report", row.id, row.slug,
                        after={"token": token.id, "tokenName": name, "prefix": prefix})
        return secret, token, row

    async def unpublish(self, ref: Ref) -> m.Report:
        """Take the report off its URL: every token of it stops working."""
        moment = datetime.now(UTC)
        async with self.transaction() as session:
            row = await self._visible(session, ref, owner_only=False)
            revoked = await session.execute(
                update(m.ReportToken).where(m.ReportToken.report_id == row.id,
                                            m.ReportToken.revoked_at.is_(None))
                .values(revoked_at=moment).returning(m.ReportToken.id)
                .execution_options(synchronize_session=False))
            row.published_at = None
            self.record(session, "report.unpublish", "Report", row.id, row.slug,
                        after={"revoked": [r[0] for r in revoked.all()]})
        return row

    async def revoke_token(self, ref: Ref) -> m.ReportToken:
        async with self.transaction() as session:
            token = await session.get(m.ReportToken, ref.pk)
            if token is None:
                raise ref.missing("report token")
            report = await self._visible(session, Ref(token.report_id, ref.name, ref.field),
                                         owner_only=False)
            if token.revoked_at is None:
                token.revoked_at = datetime.now(UTC)
                self.record(session, "report.token_revoke", "Report", report.id, report.slug,
                            after={"token": token.id, "prefix": token.prefix})
        return token


@dataclass(frozen=True, slots=True)
class OpenedReport:
    """A report a token opened, and who it runs as."""

    report: m.Report
    owner: m.User
    token_id: int


@dataclass(frozen=True, slots=True)
class Refused:
    status: int
    code: ErrorCode
    message: str


async def open_report(sessions: async_sessionmaker[AsyncSession], ident: str, secret: str
                      ) -> OpenedReport | Refused:
    """The report `ident` (its number or slug) if `secret` is a live token of it.

    An unknown, revoked or malformed secret is 401; a live token of another report,
    or of a report whose owner is disabled, is 403. Which reports exist is never told.
    """
    unknown = Refused(401, ErrorCode.UNAUTHENTICATED, "invalid or revoked report token")
    if not secret.startswith(REPORT_TOKEN_PREFIX) or len(secret) > 200:
        return unknown
    moment = datetime.now(UTC)
    async with sessions() as session:
        found = (await session.execute(
            select(m.ReportToken, m.Report, m.User)
            .join(m.Report, m.Report.id == m.ReportToken.report_id)
            .join(m.User, m.User.id == m.Report.owner_id)
            .where(m.ReportToken.token_hash == auth.digest(secret),
                   m.ReportToken.revoked_at.is_(None)))).one_or_none()
    if found is None:
        return unknown
    token, report, owner = found
    if ident not in (report.slug, str(report.id)):
        return Refused(403, ErrorCode.FORBIDDEN, "this token opens another report")
    if owner.disabled:
        return Refused(403, ErrorCode.FORBIDDEN, "this report's owner is disabled")
    if report.published_at is None:
        return Refused(403, ErrorCode.FORBIDDEN, "this report is not published")
    if token.last_used_at is None or moment - token.last_used_at > _TOUCH_EVERY:
        async with sessions() as session, session.begin():
            # Conditional, so concurrent fetches write it once and never wait on each other.
            await session.execute(
                update(m.ReportToken)
                .where(m.ReportToken.id == token.id,
                       (m.ReportToken.last_used_at.is_(None))
                       | (m.ReportToken.last_used_at < moment - _TOUCH_EVERY))
                .values(last_used_at=moment).execution_options(synchronize_session=False))
    return OpenedReport(report, owner, token.id)
