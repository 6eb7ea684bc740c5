from datetime import date, timedelta

import pytest

from migasfree_pyramid.domain.matching import (
    DelayRule,
    DeploymentRule,
    DomainRule,
    auto_restart_date,
    available_deployments,
    domain_of_tag,
    domain_tag_value,
    is_available,
    is_domain_tag_value,
    matches,
    matching_domains,
    normalize_domain_name,
    open_waves,
    schedule_timeline,
    time_horizon,
)

ALL = 1
MON = date(2024, 1, 1)  # a Monday
assert MON.weekday() == 0


def dep(**kw):
    values = {
        "id": 1,
        "name": "dep",
        "project_id": 7,
        "enabled": True,
        "domain": None,
        "included": frozenset(),
        "excluded": frozenset(),
        "start_date": MON,
        "delays": (),
    }
    values.update(kw)
    return DeploymentRule(**values)


# --- matches / domains -------------------------------------------------------


@pytest.mark.parametrize(
    ("included", "excluded", "attributes", "expected"),
    [
        ({1, 2}, set(), {2, 3}, True),
        ({1, 2}, {3}, {2, 3}, False),  # excluded wins
        ({1}, set(), {2}, False),
        (set(), set(), {1}, False),  # nothing included: never matches
        ([1], [], [1], True),  # any iterables
    ],
)
def test_matches(included, excluded, attributes, expected):
    assert matches(included, excluded, attributes) is expected


def test_matching_domains_keeps_input_order():
    d1 = DomainRule(1, "SALES", {10}, {20})
    d2 = DomainRule(2, "IT", [11, 10])
    d3 = DomainRule(3, "HR", {12})
    assert matching_domains([d1, d2, d3], {10}) == [d1, d2]
    assert matching_domains([d1, d2, d3], [10, 20]) == [d2]
    assert matching_domains([], {10}) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Sales", "SALES"),
        ("  human resources ", "HUMAN-RESOURCES"),
        ("Ñandú área", "NANDU-AREA"),
        ("a--b  c", "A-B-C"),
        ("x.y/z!", "XYZ"),
        ("_under_", "UNDER"),
        ("HUMAN-RESOURCES", "HUMAN-RESOURCES"),  # idempotent
    ],
)
def test_domain_names_are_slugified_upper(name, expected):
    assert normalize_domain_name(name) == expected
    assert domain_tag_value(name) == expected


def test_domain_tag_helpers():
    assert domain_of_tag("SALES.MADRID.CENTRO") == "SALES"
    assert domain_of_tag("SALES") == "SALES"
    assert is_domain_tag_value("SALES", "SALES")
    assert is_domain_tag_value("SALES", "SALES.MADRID")
    assert not is_domain_tag_value("SALES", "SALESMEN")


# --- time_horizon ------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "delay", "expected"),
    [
        (date(2024, 1, 1), 0, date(2024, 1, 1)),  # Mon +0 -> Mon
        (date(2024, 1, 1), 4, date(2024, 1, 5)),  # Mon +4 -> Fri
        (date(2024, 1, 1), 5, date(2024, 1, 8)),  # Mon +5 -> next Mon
        (date(2024, 1, 5), 0, date(2024, 1, 5)),  # Fri +0 -> Fri
        (date(2024, 1, 5), 1, date(2024, 1, 8)),  # Fri +1 -> Mon
        (date(2024, 1, 3), 3, date(2024, 1, 8)),  # Wed +3 -> Thu, Fri, Mon
        (date(2024, 1, 3), 10, date(2024, 1, 17)),  # Wed +10 -> Wed two weeks later
        (date(2024, 1, 4), 7, date(2024, 1, 15)),  # Thu +7 -> Mon after next
        (date(2024, 2, 28), 2, date(2024, 3, 1)),  # leap year, Wed +2 -> Fri
        (date(2024, 1, 6), 0, date(2024, 1, 8)),  # Sat +0 -> Mon
        (date(2024, 1, 7), 0, date(2024, 1, 9)),  # Sun +0 -> Tue (formula assumes weekday start)
    ],
)
def test_time_horizon(start, delay, expected):
    assert time_horizon(start, delay) == expected


def test_time_horizon_never_lands_on_weekend_from_a_weekday():
    for offset in range(5):
        start = MON + timedelta(days=offset)
        for delay in range(40):
            assert time_horizon(start, delay).weekday() < 5


# --- is_available ------------------------------------------------------------


def test_direct_inclusion():
    d = dep(included={10})
    assert is_available(d, 5, 7, {10, 11}, MON)
    assert not is_available(d, 5, 7, {11}, MON)


def test_other_project_or_disabled():
    d = dep(included={10})
    assert not is_available(d, 5, 8, {10}, MON)
    assert not is_available(dep(included={10}, enabled=False), 5, 7, {10}, MON)


def test_excluded_wins_over_direct_and_schedule():
    d = dep(included={10}, excluded={99}, delays=(DelayRule(0, 1, {10}),))
    assert not is_available(d, 5, 7, {10, 99}, MON + timedelta(days=30))


def test_start_date_in_the_future_hides_direct_inclusion():
    d = dep(included={10}, start_date=MON + timedelta(days=1))
    assert not is_available(d, 5, 7, {10}, MON)
    assert is_available(d, 5, 7, {10}, MON + timedelta(days=1))


def test_start_date_in_the_future_hides_scheduled_inclusion():
    d = dep(start_date=date(2024, 1, 10), delays=(DelayRule(0, 1, {ALL}),))
    assert not is_available(d, 0, 7, {ALL}, date(2024, 1, 9))
    assert is_available(d, 0, 7, {ALL}, date(2024, 1, 10))


def test_domain_gate():
    domain = DomainRule(3, "SALES", {50}, {51})
    d = dep(included={10}, domain=domain)
    assert is_available(d, 5, 7, {10, 50}, MON)
    assert not is_available(d, 5, 7, {10}, MON)  # not a member
    assert not is_available(d, 5, 7, {10, 50, 51}, MON)  # member excluded from the domain


def test_domain_gate_also_applies_to_schedules():
    d = dep(domain=DomainRule(3, "D", {50}), delays=(DelayRule(0, 1, {ALL}),))
    assert not is_available(d, 5, 7, {ALL}, MON)
    assert is_available(d, 5, 7, {ALL, 50}, MON)


@pytest.mark.parametrize(
    ("computer_id", "opens_on"),
    [
        # delay 2, duration 4 from Monday 2024-01-01: wave k opens on working day 2 + k
        (8, date(2024, 1, 3)),  # k=0 -> Wed
        (1, date(2024, 1, 4)),  # k=1 -> Thu
        (6, date(2024, 1, 5)),  # k=2 -> Fri
        (3, date(2024, 1, 8)),  # k=3 -> Mon (weekend skipped)
    ],
)
def test_schedule_waves_by_computer_id(computer_id, opens_on):
    d = dep(delays=(DelayRule(2, 4, {ALL}),))
    assert not is_available(d, computer_id, 7, {ALL}, opens_on - timedelta(days=1))
    assert is_available(d, computer_id, 7, {ALL}, opens_on)
    assert is_available(d, computer_id, 7, {ALL}, opens_on + timedelta(days=60))


def test_schedule_needs_the_delay_attributes():
    d = dep(delays=(DelayRule(0, 1, {20}),))
    assert not is_available(d, 1, 7, {ALL}, MON + timedelta(days=30))
    assert is_available(d, 1, 7, {20}, MON)


def test_each_matching_delay_is_tested_separately():
    # The computer hits both delays; the early one (delay 0) is enough.
    d = dep(delays=(DelayRule(10, 1, {20, 21}), DelayRule(0, 1, {21})))
    assert is_available(d, 1, 7, {21}, MON)
    assert not is_available(d, 1, 7, {20}, MON)
    assert is_available(d, 1, 7, {20}, date(2024, 1, 15))


def test_direct_inclusion_does_not_wait_for_schedule():
    d = dep(included={30}, delays=(DelayRule(5, 10, {ALL}),))
    assert is_available(d, 9, 7, {ALL, 30}, MON)
    assert not is_available(d, 9, 7, {ALL}, MON)


def test_zero_duration_is_treated_as_one():
    d = dep(delays=(DelayRule(0, 0, {ALL}),))
    assert is_available(d, 123, 7, {ALL}, MON)


def test_available_deployments_ordered_by_name():
    deps = [
        dep(id=1, name="zeta", included={10}),
        dep(id=2, name="alpha", included={10}),
        dep(id=3, name="mid", included={11}),
        dep(id=4, name="alpha", included={10}, project_id=8),
        dep(id=5, name="beta", delays=(DelayRule(0, 2, {10}),)),
    ]
    result = available_deployments(deps, 2, 7, [10], MON)
    assert [d.id for d in result] == [2, 5, 1]
    result = available_deployments(deps, 3, 7, [10], MON)  # wave 1 not open yet
    assert [d.id for d in result] == [2, 1]


# --- open_waves / timeline / auto restart ------------------------------------


def test_open_waves():
    delay = DelayRule(1, 3, {ALL})
    assert open_waves(MON, delay, MON) == 0
    assert open_waves(MON, delay, date(2024, 1, 2)) == 1
    assert open_waves(MON, delay, date(2024, 1, 4)) == 3
    assert open_waves(MON, delay, date(2025, 1, 1)) == 3


def test_timeline_none_without_delays():
    assert schedule_timeline(MON, (), MON) is None


def test_timeline_dates_and_percent():
    # delays sorted by delay: begin = MON + 1 wd, end = MON + (5 + 5) wd = 2024-01-15
    delays = [DelayRule(5, 5, {ALL}), DelayRule(1, 2, {ALL})]
    timeline = schedule_timeline(MON, delays, date(2024, 1, 9))
    assert timeline["begin_date"] == "2024-01-02"
    assert timeline["end_date"] == "2024-01-15"
    assert timeline["percent"] == pytest.approx(7 / 13 * 100)


@pytest.mark.parametrize(
    ("today", "percent"),
    [(date(2023, 12, 1), 0.0), (date(2024, 1, 2), 0.0), (date(2024, 6, 1), 100.0)],
)
def test_timeline_percent_is_clamped(today, percent):
    assert schedule_timeline(MON, [DelayRule(1, 2, {ALL})], today)["percent"] == percent


def test_timeline_empty_span_is_100_percent():
    timeline = schedule_timeline(MON, [DelayRule(0, 0, {ALL})], date(2023, 1, 1))
    assert timeline == {"begin_date": "2024-01-01", "end_date": "2024-01-01", "percent": 100.0}


def test_auto_restart_uses_working_days():
    # Highest delay 3 + duration 5 = 8 working days from Mon 2024-01-01 -> Thu 2024-01-11.
    delays = [DelayRule(0, 2, {ALL}), DelayRule(3, 5, {ALL})]
    # Calendar days (the original) would already restart on 2024-01-09.
    assert auto_restart_date(MON, delays, date(2024, 1, 9)) is None
    assert auto_restart_date(MON, delays, date(2024, 1, 10)) is None
    assert auto_restart_date(MON, delays, date(2024, 1, 11)) == date(2024, 1, 12)
    assert auto_restart_date(MON, delays, date(2024, 3, 1)) == date(2024, 1, 12)


def test_auto_restart_skips_the_weekend():
    # 0 + 4 working days from Monday -> Friday; restart on the next Monday.
    assert auto_restart_date(MON, [DelayRule(0, 4)], date(2024, 1, 5)) == date(2024, 1, 8)


def test_auto_restart_without_delays():
    assert auto_restart_date(MON, [], date(2030, 1, 1)) is None
