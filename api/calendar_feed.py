"""The calendar as an iCalendar feed (RFC 5545) at a per-user secret address.

`GET /feeds/calendar/<secret>.ics` answers releases, change windows (from every
ITSM), blackout windows and environment bookings, filtered by the query:
`types` (release, change, blackout, booking; comma-separated, default all),
`application` (a key), `environment` (a name: bookings of it), `from` and `to`
(ISO dates, default 30 days back to 180 days ahead).

Every event's UID is the record's identity (`release-12@heatshield`), never its
dates, and its SEQUENCE grows when the record changes, so a subscribed calendar
moves a rescheduled release instead of adding a second one. The address needs
no session: the secret is the credential (`api/services/feeds.py`), the feed
reads as its owner, and a revoked secret or disabled owner gets 404.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from api.db import models as m
from api.hub import Hub
from api.services.feeds import feed_owner
from api.upstream_loaders import UpstreamLoaders
from connectors.records import ChangeRecord, TimeWindow

TYPES = ("release", "change", "blackout", "booking")
UID_DOMAIN = "heatshield"
MAX_DAYS = 400


class FeedQueryError(ValueError):
    """A feed filter that cannot be read; the message names it."""


@dataclass(frozen=True, slots=True)
class FeedFilter:
    start: datetime
    end: datetime
    types: frozenset[str] = frozenset(TYPES)
    application: str | None = None
    environment: str | None = None

    @classmethod
    def parse(cls, params: dict[str, str], now: datetime) -> FeedFilter:
        def day(name: str, default: datetime) -> datetime:
            text = params.get(name)
            if not text:
                return default
            try:
                return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
            except ValueError:
                raise FeedQueryError(f"{name} is not a date (YYYY-MM-DD): {text[:40]!r}"
                                     ) from None
        start = day("from", now - timedelta(days=30))
        end = day("to", now + timedelta(days=180))
        if end <= start:
            raise FeedQueryError("to must be after from")
        if end - start > timedelta(days=MAX_DAYS):
            raise FeedQueryError(f"a feed covers at most {MAX_DAYS} days")
        types = frozenset(t.strip() for t in params.get("types", ",".join(TYPES)).split(",")
                          if t.strip())
        unknown = sorted(types - set(TYPES))
        if unknown:
            raise FeedQueryError(f"unknown types: {', '.join(unknown)}; types: "
                                 f"{', '.join(TYPES)}")
        return cls(start, end, types, params.get("application") or None,
                   params.get("environment") or None)


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One event, in calendar words."""

    uid: str
    summary: str
    start: datetime
    end: datetime
    description: str = ""
    categories: tuple[str, ...] = ()
    sequence: int = 0
    last_modified: datetime | None = None
    cancelled: bool = False
    tentative: bool = False


def build_calendar(entries: Sequence[FeedEntry], now: datetime) -> bytes:
    """The entries as one VCALENDAR (RFC 5545), through the icalendar library."""
    from icalendar import Calendar, Event  # only when a feed is read: not at start-up

    calendar = Calendar()
    calendar.add("prodid", "-//Heatshield//Release calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", "Heatshield release calendar")
    for entry in entries:
        event = Event()
        event.add("uid", entry.uid)
        event.add("dtstamp", now)
        event.add("dtstart", entry.start)
        # A zero-length change window is an instant: RFC 5545 allows DTEND = DTSTART.
        event.add("dtend", max(entry.end, entry.start))
        event.add("summary", entry.summary)
        if entry.description:
            event.add("description", entry.description)
        if entry.categories:
            event.add("categories", list(entry.categories))
        event.add("sequence", entry.sequence)
        if entry.last_modified is not None:
            event.add("last-modified", entry.last_modified)
        status = "CANCELLED" if entry.cancelled else "TENTATIVE" if entry.tentative \
            else "CONFIRMED"
        event.add("status", status)
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    body: bytes = calendar.to_ical()
    return body


def _stamp(moment: datetime | None) -> int:
    """A SEQUENCE that grows with each change of a record that keeps no version."""
    return int(moment.timestamp()) // 60 if moment else 0


async def _stored(session: AsyncSession, wanted: FeedFilter) -> list[FeedEntry]:
    entries: list[FeedEntry] = []
    app_releases = None
    if wanted.application:
        app_releases = (select(m.release_applications.c.release_id)
                        .join(m.Application,
                              m.Application.id == m.release_applications.c.application_id)
                        .where(m.Application.key == wanted.application))
    if "release" in wanted.types:
        query = select(m.Release).where(m.Release.window_start < wanted.end,
                                        m.Release.window_end > wanted.start)
        if app_releases is not None:
            query = query.where(m.Release.id.in_(app_releases))
        for r in await session.scalars(query.order_by(m.Release.window_start, m.Release.id)):
            assert r.window_start is not None and r.window_end is not None
            entries.append(FeedEntry(
                uid=f"release-{r.id}@{UID_DOMAIN}", summary=f"Release {r.key}: {r.name}",
                start=r.window_start, end=r.window_end,
                description=f"{r.type.name.lower()} release, {r.status.name.lower()}"
                            + (f"\n{r.description}" if r.description else ""),
                categories=("Release",), sequence=r.version, last_modified=r.updated_at,
                cancelled=r.status is m.ReleaseStatus.CANCELLED))
    if "blackout" in wanted.types:
        for b in await session.scalars(select(m.BlackoutWindow).where(
                m.BlackoutWindow.start < wanted.end, m.BlackoutWindow.end > wanted.start)
                .order_by(m.BlackoutWindow.start, m.BlackoutWindow.id)):
            scope = ", ".join(t.lower() for t in b.tiers) or "every tier"
            entries.append(FeedEntry(
                uid=f"blackout-{b.id}@{UID_DOMAIN}", summary=f"Blackout: {b.name}",
                start=b.start, end=b.end, description=f"Covers {scope}. {b.reason}".strip(),
                categories=("Blackout",)))
    if "booking" in wanted.types:
        bookings = (select(m.EnvironmentBooking, m.Environment.name)
                 .join(m.Environment, m.Environment.id == m.EnvironmentBooking.environment_id)
                 .where(m.EnvironmentBooking.start < wanted.end,
                        m.EnvironmentBooking.end > wanted.start,
                        m.EnvironmentBooking.status.in_([m.BookingStatus.REQUESTED,
                                                         m.BookingStatus.APPROVED,
                                                         m.BookingStatus.CANCELLED])))
        if wanted.environment:
            bookings = bookings.where(m.Environment.name == wanted.environment)
        if app_releases is not None:
            bookings = bookings.where(m.EnvironmentBooking.release_id.in_(app_releases))
        rows = await session.execute(bookings.order_by(m.EnvironmentBooking.start,
                                                    m.EnvironmentBooking.id))
        for booking, env in rows.all():
            who = booking.team or "a release"
            entries.append(FeedEntry(
                uid=f"booking-{booking.id}@{UID_DOMAIN}",
                summary=f"{env} booked for {who}", start=booking.start, end=booking.end,
                description=f"{booking.purpose}\n{booking.status.name.lower()}",
                categories=("Booking",), sequence=booking.version,
                last_modified=booking.updated_at,
                cancelled=booking.status is m.BookingStatus.CANCELLED,
                tentative=booking.status is m.BookingStatus.REQUESTED))
    return entries


def _change_entry(change: ChangeRecord) -> FeedEntry | None:
    if change.planned_start is None or change.planned_end is None:
        return None
    approved = change.approval.name.lower().replace("_", " ")
    return FeedEntry(
        uid=f"change-{change.source}-{change.number}@{UID_DOMAIN}",
        summary=f"Change {change.number}: {change.title}", start=change.planned_start,
        end=max(change.planned_start, change.planned_end),
        description=f"{change.state_label} ({change.source}), approval: {approved}\n"
                    f"{change.url}",
        categories=("Change",), sequence=_stamp(change.updated_at),
        last_modified=change.updated_at,
        cancelled=change.state.name in ("CANCELED", "REJECTED"),
        tentative=change.approval.name != "APPROVED")


async def feed_entries(sessions: async_sessionmaker[AsyncSession], hub: Hub,
                       wanted: FeedFilter) -> list[FeedEntry]:
    async with sessions() as session:
        entries = await _stored(session, wanted)
        cis: set[str] | None = None
        if wanted.application and "change" in wanted.types:
            items = await session.scalar(select(m.Application.cmdb_items)
                                         .where(m.Application.key == wanted.application))
            cis = {ci.lower() for ci in items or []}
    if "change" in wanted.types:
        upstream = UpstreamLoaders(hub, hub.deadline())
        for _, fetched in await upstream.search_changes(
                sorted(hub.change_sources()), (None, TimeWindow(wanted.start, wanted.end))):
            for change in fetched.value or []:
                if cis is not None and not {c.lower() for c in change.configuration_items} & cis:
                    continue
                entry = _change_entry(change)
                if entry is not None:
                    entries.append(entry)
    entries.sort(key=lambda e: (e.start, e.uid))
    return entries


def feed_routes(sessions: async_sessionmaker[AsyncSession], hub: Hub) -> list[BaseRoute]:
    async def calendar(request: Request) -> Response:
        secret = str(request.path_params["secret"])
        owner = await feed_owner(sessions, secret)
        if owner is None:
            return PlainTextResponse("no such feed", status_code=404)
        now = datetime.now(UTC).replace(microsecond=0)
        try:
            wanted = FeedFilter.parse(dict(request.query_params), now)
        except FeedQueryError as error:
            return PlainTextResponse(str(error), status_code=400)
        body = build_calendar(await feed_entries(sessions, hub, wanted), now)
        return Response(body, media_type="text/calendar; charset=utf-8", headers={
            "Cache-Control": "private, max-age=300",
            "Content-Disposition": 'inline; filename="heatshield.ics"'})

    return [Route("/feeds/calendar/{secret}.ics", calendar, methods=["GET"])]
