"""The caller's calendar feed address: make one (shown once), see it, revoke it."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.db.models import Role
from api.permissions import IsViewer, require_role
from api.schema.context import Info
from api.services.feeds import FeedService


@strawberry.type(description=(
    "A calendar feed address. The secret is part of the URL and is shown only when made: "
    "keep it like a password; revoke it (or make a new one) if it leaks."))
class CalendarFeed:
    prefix: str = strawberry.field(description="The secret's first characters, to tell "
                                               "feeds apart.")
    created_at: datetime
    url: str | None = strawberry.field(description=(
        "The address to subscribe to (iCalendar, RFC 5545), only in the answer that made "
        "it. Filters: ?types=release,change,blackout,booking&application=KEY&"
        "environment=NAME&from=YYYY-MM-DD&to=YYYY-MM-DD."))


def _feeds(info: Info) -> FeedService:
    principal = require_role(info, Role.VIEWER)
    return FeedService(info.context.sessions, info.context.actor, principal.user_id)


def _base_url(info: Info) -> str:
    public = info.context.settings.server.public_url
    if public:
        return str(public).rstrip("/")
    request = info.context.request
    return str(request.base_url).rstrip("/") if request is not None else ""


@strawberry.type
class FeedQuery:
    @strawberry.field(description="Your live calendar feed (without its secret), if any.",
                      permission_classes=[IsViewer])
    async def calendar_feed(self, info: Info) -> CalendarFeed | None:
        row = await _feeds(info).current()
        return None if row is None else CalendarFeed(prefix=row.prefix,
                                                     created_at=row.created_at, url=None)


@strawberry.type
class FeedMutation:
    @strawberry.mutation(description=(
        "Make your calendar feed address; any earlier one stops working."),
        permission_classes=[IsViewer])
    async def create_calendar_feed(self, info: Info) -> CalendarFeed:
        secret, row = await _feeds(info).create()
        return CalendarFeed(prefix=row.prefix, created_at=row.created_at,
                            url=f"{_base_url(info)}/feeds/calendar/{secret}.ics")

    @strawberry.mutation(description="Stop your calendar feed address from working. "
                                     "Whether there was one to revoke.",
                         permission_classes=[IsViewer])
    async def revoke_calendar_feed(self, info: Info) -> bool:
        return await _feeds(info).revoke()
