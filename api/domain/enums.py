"""The names Heatshield gives to kinds and states of its own data.

Plain enums, apart from storage and the graph, so the rules in `api/domain`
can use them without importing either; `api.db.models` stores them and the
schema exposes them under the same names.
"""

from __future__ import annotations

import enum


class EnvironmentTier(enum.Enum):
    DEV = "DEV"
    TEST = "TEST"
    STAGING = "STAGING"
    PRODUCTION = "PRODUCTION"


class ReleaseType(enum.Enum):
    ENTERPRISE = "ENTERPRISE"
    PROJECT = "PROJECT"
    EMERGENCY = "EMERGENCY"


class ReleaseStatus(enum.Enum):
    PLANNED = "PLANNED"
    IN_PROGRESS = "IN_PROGRESS"
    READY = "READY"
    DEPLOYING = "DEPLOYING"
    DEPLOYED = "DEPLOYED"
    CANCELLED = "CANCELLED"


class BookingStatus(enum.Enum):
    REQUESTED = "REQUESTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


class ActivityStatus(enum.Enum):
    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


class IntentStatus(enum.Enum):
    PENDING = "PENDING"  # recorded, upstream not yet confirmed
    CREATED = "CREATED"  # upstream has it; `number` is set
    FAILED = "FAILED"  # upstream refused it; nothing was created


class Role(enum.Enum):
    VIEWER = "VIEWER"
    RELEASE_MANAGER = "RELEASE_MANAGER"
    ADMIN = "ADMIN"
