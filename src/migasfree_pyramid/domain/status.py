"""Computer status values and the groups the rules filter on (spec A.2.1, B.8)."""

from __future__ import annotations

from enum import StrEnum


class ComputerStatus(StrEnum):
    """``client_computer.status`` values (members compare equal to the strings)."""

    ASSIGNED = "assigned"
    RESERVED = "reserved"
    UNKNOWN = "unknown"
    IN_REPAIR = "in repair"
    AVAILABLE = "available"
    UNSUBSCRIBED = "unsubscribed"


# Plain-string constants.  They carry a STATUS_ prefix because the group
# names (PRODUCTIVE, ..., UNSUBSCRIBED) are the sets below.
STATUS_ASSIGNED = ComputerStatus.ASSIGNED.value
STATUS_RESERVED = ComputerStatus.RESERVED.value
STATUS_UNKNOWN = ComputerStatus.UNKNOWN.value
STATUS_IN_REPAIR = ComputerStatus.IN_REPAIR.value
STATUS_AVAILABLE = ComputerStatus.AVAILABLE.value
STATUS_UNSUBSCRIBED = ComputerStatus.UNSUBSCRIBED.value

# Every valid value, in display order.
STATUSES: tuple[str, ...] = tuple(s.value for s in ComputerStatus)
DEFAULT_STATUS = STATUS_ASSIGNED  # new computers and re-registrations

# Groups in the spec's order (display, query strings) ...
PRODUCTIVE_ORDERED: tuple[str, ...] = (STATUS_ASSIGNED, STATUS_RESERVED, STATUS_UNKNOWN)
UNPRODUCTIVE_ORDERED: tuple[str, ...] = (STATUS_IN_REPAIR, STATUS_AVAILABLE)
ACTIVE_ORDERED: tuple[str, ...] = (*PRODUCTIVE_ORDERED, STATUS_IN_REPAIR)
SUBSCRIBED_ORDERED: tuple[str, ...] = (*PRODUCTIVE_ORDERED, *UNPRODUCTIVE_ORDERED)
UNSUBSCRIBED_ORDERED: tuple[str, ...] = (STATUS_UNSUBSCRIBED,)

# ... and as sets for membership tests.
PRODUCTIVE = frozenset(PRODUCTIVE_ORDERED)
UNPRODUCTIVE = frozenset(UNPRODUCTIVE_ORDERED)
ACTIVE = frozenset(ACTIVE_ORDERED)
SUBSCRIBED = frozenset(SUBSCRIBED_ORDERED)
UNSUBSCRIBED = frozenset(UNSUBSCRIBED_ORDERED)

PRODUCTIVE_CSV = ",".join(PRODUCTIVE_ORDERED)
SUBSCRIBED_CSV = ",".join(SUBSCRIBED_ORDERED)

# Saving a computer in one of these clears its tags and its CID's links.
TAG_CLEARING = frozenset((STATUS_AVAILABLE, STATUS_UNSUBSCRIBED))


def validate_status(value: str) -> str:
    """Return ``value`` as a plain string if valid, else raise ValueError listing the valid ones."""
    if value not in STATUSES:
        raise ValueError(
            f"Invalid status {value!r}; valid values: " + ", ".join(repr(s) for s in STATUSES)
        )
    return str(value)


def is_productive(status: str) -> bool:
    """assigned, reserved or unknown: counted and visible to domain/scope users."""
    return status in PRODUCTIVE


def is_unproductive(status: str) -> bool:
    """Not productive (the original's ``unproductive`` manager: anything else)."""
    return status not in PRODUCTIVE


def is_active(status: str) -> bool:
    """Productive or in repair: may be targeted through its CID by deployments."""
    return status in ACTIVE


def is_subscribed(status: str) -> bool:
    """Anything but unsubscribed (the original filters ``status != 'unsubscribed'``)."""
    return status != STATUS_UNSUBSCRIBED


def is_unsubscribed(status: str) -> bool:
    """The computer was unsubscribed: safe endpoints answer 403."""
    return status == STATUS_UNSUBSCRIBED


def clears_tags(status: str) -> bool:
    """available/unsubscribed: every save drops the tags and the CID's links."""
    return status in TAG_CLEARING
