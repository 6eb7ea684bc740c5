import pytest

from migasfree_pyramid.domain import status
from migasfree_pyramid.domain.status import (
    ACTIVE,
    ACTIVE_ORDERED,
    DEFAULT_STATUS,
    PRODUCTIVE,
    PRODUCTIVE_CSV,
    PRODUCTIVE_ORDERED,
    STATUSES,
    SUBSCRIBED,
    SUBSCRIBED_CSV,
    SUBSCRIBED_ORDERED,
    UNPRODUCTIVE,
    UNPRODUCTIVE_ORDERED,
    UNSUBSCRIBED,
    ComputerStatus,
    clears_tags,
    validate_status,
)


def test_values_and_default():
    assert STATUSES == ("assigned", "reserved", "unknown", "in repair", "available", "unsubscribed")
    assert DEFAULT_STATUS == "assigned"
    assert ComputerStatus.IN_REPAIR == "in repair"


def test_groups_in_spec_order():
    assert PRODUCTIVE_ORDERED == ("assigned", "reserved", "unknown")
    assert UNPRODUCTIVE_ORDERED == ("in repair", "available")
    assert ACTIVE_ORDERED == ("assigned", "reserved", "unknown", "in repair")
    assert SUBSCRIBED_ORDERED == (
        "assigned",
        "reserved",
        "unknown",
        "in repair",
        "available",
    )
    assert PRODUCTIVE_CSV == "assigned,reserved,unknown"
    assert SUBSCRIBED_CSV == "assigned,reserved,unknown,in repair,available"


def test_groups_as_sets():
    assert frozenset({"assigned", "reserved", "unknown"}) == PRODUCTIVE
    assert frozenset({"in repair", "available"}) == UNPRODUCTIVE
    assert PRODUCTIVE | {"in repair"} == ACTIVE
    assert SUBSCRIBED == PRODUCTIVE | UNPRODUCTIVE
    assert frozenset({"unsubscribed"}) == UNSUBSCRIBED
    assert set(STATUSES) == SUBSCRIBED | UNSUBSCRIBED
    assert not SUBSCRIBED & UNSUBSCRIBED
    assert ComputerStatus.RESERVED in PRODUCTIVE


@pytest.mark.parametrize(
    ("value", "productive", "active", "subscribed", "clears"),
    [
        ("assigned", True, True, True, False),
        ("reserved", True, True, True, False),
        ("unknown", True, True, True, False),
        ("in repair", False, True, True, False),
        ("available", False, False, True, True),
        ("unsubscribed", False, False, False, True),
    ],
)
def test_predicates(value, productive, active, subscribed, clears):
    assert status.is_productive(value) is productive
    assert status.is_unproductive(value) is not productive
    assert status.is_active(value) is active
    assert status.is_subscribed(value) is subscribed
    assert status.is_unsubscribed(value) is not subscribed
    assert clears_tags(value) is clears


@pytest.mark.parametrize("value", STATUSES)
def test_validate_accepts_every_status(value):
    assert validate_status(value) == value


def test_validate_returns_a_plain_string():
    result = validate_status(ComputerStatus.AVAILABLE)
    assert type(result) is str


@pytest.mark.parametrize("value", ["", "Assigned", "intended", "in_repair", None])
def test_validate_rejects_and_lists_valid_values(value):
    with pytest.raises(ValueError, match="valid values") as info:
        validate_status(value)
    for valid in STATUSES:
        assert repr(valid) in str(info.value)
