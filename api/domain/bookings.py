"""Environment bookings: which decisions a booking can take from where it stands.

    REQUESTED --approve--> APPROVED --cancel--> CANCELLED
    REQUESTED --reject---> REJECTED
    REQUESTED --cancel---> CANCELLED

A rejection says why; an approval over another approved booking of the same
environment needs an override with a written reason (the service checks the
overlap, under the environment's lock).
"""

from __future__ import annotations

from collections.abc import Mapping

from api.domain.enums import BookingStatus
from api.domain.releases import RuleViolation

B = BookingStatus

MOVES: Mapping[BookingStatus, frozenset[BookingStatus]] = {
    B.REQUESTED: frozenset({B.APPROVED, B.REJECTED, B.CANCELLED}),
    B.APPROVED: frozenset({B.CANCELLED}),
    B.REJECTED: frozenset(),
    B.CANCELLED: frozenset(),
}

_VERB = {B.APPROVED: "approve", B.REJECTED: "reject", B.CANCELLED: "cancel"}


def check_booking_move(current: BookingStatus, target: BookingStatus, reason: str = "") -> None:
    """Refuse a decision the booking's status does not allow, or a rejection without reason."""
    if target not in MOVES[current]:
        raise RuleViolation(f"cannot {_VERB.get(target, target.name.lower())} a booking that "
                            f"is {current.name.lower()}", "id")
    if target is B.REJECTED and not reason.strip():
        raise RuleViolation("say why the booking is rejected", "reason")


def describe(booking_id: int, environment: str) -> str:
    """How audit events and messages name a booking."""
    return f"booking #{booking_id} of {environment}"
