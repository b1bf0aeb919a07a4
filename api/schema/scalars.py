"""Scalars with Heatshield's own input rules (the rules live in `api.domain`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types.scalar import ScalarDefinition

from api.domain.instants import parse_instant


def _serialize(value: datetime) -> str:
    return value.isoformat()


def _parse(value: Any) -> datetime:
    # A ValueError becomes graphql-core's "got invalid value ... ; <reason>", coded
    # BAD_USER_INPUT; the reason is the domain's message.
    return parse_instant(value)


DATETIME: ScalarDefinition = strawberry.scalar(
    name="DateTime", description="Date with time (isoformat)",
    serialize=_serialize, parse_value=_parse)

SCALARS: dict[object, ScalarDefinition] = {datetime: DATETIME}
