"""Spare SAM-minutes (hub/capacity/sam.py): the rules as properties over generated workshops,
telemetry and commitments (hypothesis), and a few worked examples by hand."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import date, datetime, time, timedelta, timezone
from types import SimpleNamespace

import pytest
from hypothesis import assume, given, settings, strategies as st

from hub.capacity.profiles import profile_from_registry
from hub.capacity.sam import (
    CapacityRules,
    Commitment,
    ProfileMachine,
    TelemetryEvidence,
    WorkingHours,
    WorkshopProfile,
    calibrate,
    local_days,
    local_midnight,
    network_spare,
    workshop_spare,
)
from simulators.network import generate_network

UTC = timezone.utc
KST = timezone(timedelta(hours=9))
TYPES = ["lockstitch", "overlock", "coverstitch", "bartack"]
PROPS = settings(max_examples=150, deadline=None)
RULES = CapacityRules()


# ----------------------------------------------------------------------------- generated inputs
@st.composite
def hours(draw) -> WorkingHours:
    opens = draw(st.integers(5 * 60, 11 * 60))
    closes = draw(st.integers(opens + 60, 23 * 60 + 59))
    lunch = draw(st.integers(0, 90))
    lunch = min(lunch, closes - opens)
    start = draw(st.integers(opens - 30, closes)) if lunch else None
    return WorkingHours(time(opens // 60, opens % 60), time(closes // 60, closes % 60),
                        time(max(0, start) // 60, max(0, start) % 60) if start is not None else None, lunch,
                        frozenset(draw(st.sets(st.integers(0, 6), min_size=1))),
                        frozenset(draw(st.sets(st.dates(date(2026, 1, 1), date(2027, 12, 31)), max_size=3))))


@st.composite
def profiles(draw, wid: str = "ws-changsin-0001") -> WorkshopProfile:
    kinds = draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=12))
    machines = tuple(ProfileMachine(f"m{i:02d}", t) for i, t in enumerate(kinds, start=1))
    return WorkshopProfile(wid, machines, draw(hours()), draw(st.floats(0.0, 1.0)), ("knit_tops",))


NOW = st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC))


@st.composite
def situations(draw, busy: bool = False):
    """A workshop, `now`, its telemetry per machine and day, its latest data and its commitments;
    `busy`: machines that ran on several recent days."""
    profile = draw(profiles())
    now = draw(NOW)
    today = now.astimezone(KST).date()
    evidence = []
    for m in draw(st.lists(st.sampled_from(profile.machines), unique=True, min_size=int(busy))):
        for back in draw(st.sets(st.integers(0, RULES.lookback_days + 2), min_size=6 * busy, max_size=10)):
            run = draw(st.integers(600_000 if busy else 0, 12 * 3600_000))
            evidence.append(TelemetryEvidence(profile.id, m.machine_id, today - timedelta(days=back), run,
                                              run + draw(st.integers(0, 3600_000))))
    age = draw(st.one_of(st.none(), st.timedeltas(timedelta(0), timedelta(days=40))))
    last_seen = None if age is None or not evidence else now - age
    commitments = [Commitment(profile.id, draw(st.sampled_from(TYPES)), today + timedelta(days=d), minutes)
                   for d, minutes in draw(st.lists(st.tuples(st.integers(-2, 16), st.floats(0, 20_000))))]
    return profile, now, evidence, last_seen, commitments


# ----------------------------------------------------------------------------- properties
@PROPS
@given(situations())
def test_fourteen_local_days_for_every_type_spare_is_capacity_less_commitments(s):
    profile, now, evidence, last_seen, commitments = s
    result = workshop_spare(profile, evidence, last_seen, commitments, now)
    today = (now + timedelta(hours=9)).date()  # Seoul: +09:00 all year, no daylight saving
    expected_types = set(profile.machine_types()) | {c.machine_type for c in commitments
                                                      if 0 <= (c.day - today).days < 14}
    assert {t.machine_type for t in result.types} == expected_types
    for t in result.types:
        assert [d.day for d in t.days] == [today + timedelta(days=i) for i in range(14)]
        for i, d in enumerate(t.days):
            booked = sum(c.minutes for c in commitments if c.machine_type == t.machine_type and c.day == d.day)
            assert d.committed == pytest.approx(booked)
            assert d.capacity >= 0 and d.working_minutes >= 0
            assert d.spare == d.capacity - d.committed
            # Never negative unless over-committed, and then said so, never clipped.
            assert (d.spare < 0) == d.over_committed == (d.committed > d.capacity)
            assert d.partial == (i == 0)
            if not profile.hours.works_on(d.day):
                assert d.working_minutes == 0 and d.capacity == 0
            ko, en = t.sentence(d, profile.hours)
            assert ko and en and ko != en
        assert 0 <= t.availability.value <= 1 and 0 <= t.efficiency.value <= 1


@PROPS
@given(situations(), st.sampled_from(TYPES))
def test_one_more_machine_never_lowers_capacity(s, kind):
    profile, now, evidence, last_seen, _ = s
    before = {t.machine_type: t for t in workshop_spare(profile, evidence, last_seen, [], now).types}
    more = replace(profile, machines=profile.machines + (ProfileMachine("m99", kind),))
    after = {t.machine_type: t for t in workshop_spare(more, evidence, last_seen, [], now).types}
    for t, a in after.items():
        for d_after, d_before in zip(a.days, before[t].days if t in before else [None] * 14):
            was = d_before.capacity if d_before else 0.0
            assert d_after.capacity >= was - 1e-9 * max(1.0, was)


@PROPS
@given(situations(), st.floats(0.0, 1.0))
def test_a_higher_declared_efficiency_never_lowers_capacity(s, other):
    profile, now, evidence, last_seen, _ = s
    low, high = sorted((profile.declared_efficiency, other))
    a = workshop_spare(replace(profile, declared_efficiency=low), evidence, last_seen, [], now)
    b = workshop_spare(replace(profile, declared_efficiency=high), evidence, last_seen, [], now)
    for ta, tb in zip(a.types, b.types):
        for da, db in zip(ta.days, tb.days):
            assert db.capacity >= da.capacity - 1e-9 * max(1.0, da.capacity)


@PROPS
@given(profiles(), NOW, st.integers(1, 180), st.integers(0, 60))
def test_longer_hours_never_lower_capacity(profile, now, later_close, earlier_open):
    """With the same factors (here the declared ones: no telemetry), more working minutes never
    mean less capacity on any day. (With telemetry, efficiency is needle time per working minute,
    so declaring longer hours does not by itself add capacity the machines never showed.)"""
    h = profile.hours
    close = min(23 * 60 + 59, h.closes.hour * 60 + h.closes.minute + later_close)
    opening = max(0, h.opens.hour * 60 + h.opens.minute - earlier_open)
    longer = replace(profile, hours=replace(h, opens=time(opening // 60, opening % 60),
                                            closes=time(close // 60, close % 60)))
    a = workshop_spare(profile, [], None, [], now)
    b = workshop_spare(longer, [], None, [], now)
    for ta, tb in zip(a.types, b.types):
        for da, db in zip(ta.days, tb.days):
            assert db.working_minutes >= da.working_minutes
            assert db.capacity >= da.capacity - 1e-9 * max(1.0, da.capacity)


@PROPS
@given(situations(busy=True), st.floats(0.0, 1.0))
def test_stale_data_decays_toward_the_declared_figures_with_the_half_life(s, step):
    profile, now, evidence, last_seen, _ = s
    assume(last_seen is not None)
    half_life = RULES.half_life
    fresh_avail, fresh_eff = calibrate(profile, evidence, now - timedelta(0), now, RULES)
    assume(fresh_eff.measured is not None)
    previous = None
    for k in (0.0, step, 1.0, 2.0, 5.0, 40.0):
        avail, eff = calibrate(profile, evidence, now - half_life * k, now, RULES)
        # Exactly the measurement's weight at age 0, halved once per half-life.
        assert eff.trust == pytest.approx(fresh_eff.trust * 0.5 ** k)
        gap = abs(eff.value - eff.declared)
        assert gap == pytest.approx(abs(fresh_eff.value - fresh_eff.declared) * 0.5 ** k, rel=1e-9, abs=1e-12)
        for t, a in avail.items():
            assert abs(a.value - a.declared) == pytest.approx(
                abs(fresh_avail[t].value - fresh_avail[t].declared) * 0.5 ** k, rel=1e-9, abs=1e-12)
        if previous is not None and k > previous[0]:
            assert gap <= previous[1] + 1e-12
        previous = (k, gap)
    # 40 half-lives on, nothing of the measurement is left.
    assert eff.value == pytest.approx(eff.declared, abs=1e-9)


@PROPS
@given(profiles(), NOW)
def test_a_workshop_never_seen_has_its_declared_figures(profile, now):
    result = workshop_spare(profile, [], None, [], now)
    for t in result.types:
        assert t.availability.value == 1.0 and t.availability.rule == "declared:never_seen"
        assert t.efficiency.value == profile.declared_efficiency
        for d in t.days[1:]:
            assert d.capacity == pytest.approx(len(t.machine_ids) * profile.hours.minutes_on(d.day)
                                               * profile.declared_efficiency)


@PROPS
@given(st.dates(date(1990, 1, 1), date(2100, 12, 30)))
def test_every_seoul_day_is_24_hours_and_starts_at_15_utc(day):
    start, end = local_midnight(day, "Asia/Seoul"), local_midnight(day + timedelta(days=1), "Asia/Seoul")
    assert end - start == timedelta(hours=24)
    assert start.astimezone(UTC).time() == time(15, 0)


@PROPS
@given(NOW)
def test_today_is_the_date_in_seoul(now):
    assert local_days(now, "Asia/Seoul", 14)[0] == now.astimezone(KST).date()


def test_the_day_turns_at_seoul_midnight_not_utc_midnight():
    profile = WorkshopProfile("ws", (ProfileMachine("m01", "lockstitch"),),
                              WorkingHours(time(9), time(18), time(12), 60, frozenset(range(7))), 0.5)
    before = workshop_spare(profile, [], None, [], datetime(2026, 11, 26, 14, 59, 59, tzinfo=UTC))
    after = workshop_spare(profile, [], None, [], datetime(2026, 11, 26, 15, 0, 0, tzinfo=UTC))
    assert before.types[0].days[0].day == date(2026, 11, 26)  # 23:59:59 KST
    assert before.types[0].days[0].working_minutes == 0  # its working hours are over
    assert after.types[0].days[0].day == date(2026, 11, 27)  # 00:00 KST: a new day, all of it ahead
    assert after.types[0].days[0].working_minutes == 480
    assert after.types[0].days[-1].day == date(2026, 12, 10)
    # 14:00 KST: the afternoon is left, 14:00 to 18:00.
    mid = workshop_spare(profile, [], None, [], datetime(2026, 11, 27, 5, 0, tzinfo=UTC))
    assert mid.types[0].days[0].working_minutes == 240


# ----------------------------------------------------------------------------- worked examples
HOURS = WorkingHours(time(9), time(19), time(12), 60, frozenset(range(6)))  # Mon-Sat, 540 min
PROFILE = WorkshopProfile("ws-sinseol-0001", (
    ProfileMachine("m01", "lockstitch"), ProfileMachine("m02", "lockstitch"), ProfileMachine("m03", "lockstitch"),
    ProfileMachine("m04", "lockstitch"), ProfileMachine("m05", "overlock"), ProfileMachine("m06", "overlock")),
    HOURS, 0.5, ("knit_tops",))
NOW_KST = datetime(2026, 11, 27, 8, 0, tzinfo=KST)  # a Friday, before opening


def busy_week(days: int = 6) -> list[TelemetryEvidence]:
    """Three of the four lockstitch machines and both overlocks ran; m04 never does."""
    out = []
    for back in range(1, days + 1):
        day = NOW_KST.date() - timedelta(days=back)
        if day.weekday() == 6:
            continue
        for m, minutes in (("m01", 162), ("m02", 162), ("m03", 162), ("m05", 135), ("m06", 135)):
            out.append(TelemetryEvidence(PROFILE.id, m, day, minutes * 60_000, 540 * 60_000, 100_000))
        out.append(TelemetryEvidence(PROFILE.id, "m04", day, 0, 540 * 60_000, 0))
    return out


def test_telemetry_sets_availability_and_efficiency_and_says_how():
    result = workshop_spare(PROFILE, busy_week(), NOW_KST - timedelta(hours=14), [
        Commitment(PROFILE.id, "overlock", date(2026, 11, 28), 300, "order-1"),
        Commitment(PROFILE.id, "overlock", date(2026, 11, 28), 200, "order-2")], NOW_KST)
    lock, over = result.types
    # Needle time: (3 × 162 + 2 × 135) / (5 × 540) = 28 % of working time; at 0.5 needle share, 56 %.
    assert lock.efficiency.measured == pytest.approx(756 / 2700 / 0.5)
    assert lock.availability.measured == pytest.approx(0.75) and over.availability.measured == 1.0
    trust = 0.5 ** (14 / 72)
    assert lock.efficiency.trust == pytest.approx(trust) and lock.efficiency.rule == "blended"
    eff = 0.5 + trust * (0.56 - 0.5)
    assert lock.efficiency.value == pytest.approx(eff)
    assert lock.availability.value == pytest.approx(1 + trust * (0.75 - 1))
    friday = lock.days[0]
    assert friday.working_minutes == 540 and friday.partial
    assert friday.capacity == pytest.approx(4 * (1 + trust * (0.75 - 1)) * 540 * eff)
    saturday = over.days[1]
    assert saturday.committed == 500 and saturday.commitments == 2
    assert saturday.spare == pytest.approx(2 * 540 * eff - 500)
    assert not saturday.over_committed
    assert over.days[2].working_minutes == 0  # Sunday
    ko, en = lock.availability.sentence("lockstitch")
    assert "본봉 4대 중 3.0대 가동" in ko and "3.0 of 4 lockstitch machines ran" in en
    ko, en = lock.sentence(friday, HOURS)
    assert ko.startswith("11/27(금) 본봉 여유") and "4대 × 가용" in ko
    assert en.startswith("Fri 11-27 lockstitch spare") and "4 machines" in en
    explained = lock.explain(friday, HOURS, NOW_KST)
    assert explained["inputs"]["machines"]["value"] == 4
    assert explained["inputs"]["working_minutes"]["value"] == 540
    assert explained["inputs"]["committed"] == {"value": 0.0, "source": "accepted work", "commitments": 0}
    assert explained["rule"] == "machines × availability × working_minutes × efficiency − committed"
    factor = lock.efficiency.explain()
    assert factor["age_s"] == 14 * 3600 and factor["evidence_days"] == 5 and factor["declared"] == 0.5


def test_over_commitment_is_shown_not_hidden_even_for_a_type_the_workshop_lacks():
    result = workshop_spare(PROFILE, [], None, [
        Commitment(PROFILE.id, "overlock", date(2026, 11, 28), 5000),
        Commitment(PROFILE.id, "bartack", date(2026, 11, 30), 60)], NOW_KST)
    by_type = {t.machine_type: t for t in result.types}
    over = by_type["overlock"].days[1]
    assert over.over_committed and over.spare == pytest.approx(2 * 540 * 0.5 - 5000)
    bartack = by_type["bartack"]
    assert bartack.machines == 0 and bartack.days[3].over_committed and bartack.days[3].spare == -60
    assert "약속 초과 60분" in bartack.sentence(bartack.days[3], HOURS)[0]


def test_an_idle_or_silent_workshop_keeps_its_declared_capacity():
    idle = [replace(e, run_ms=0) for e in busy_week()]
    result = workshop_spare(PROFILE, idle, NOW_KST - timedelta(hours=14), [], NOW_KST)
    assert result.types[0].availability.rule == "declared:idle"
    assert result.types[0].days[0].capacity == pytest.approx(4 * 540 * 0.5)
    # Telemetry stopped 20 days ago: the lookback (14 days) holds none of it.
    silent = workshop_spare(PROFILE, [], NOW_KST - timedelta(days=20), [], NOW_KST)
    assert silent.types[0].efficiency.rule == "declared:no_recent_data"
    assert silent.types[0].days[0].capacity == pytest.approx(4 * 540 * 0.5)
    # The store down: declared figures, and the reason.
    down = workshop_spare(PROFILE, busy_week(), NOW_KST, [], NOW_KST, telemetry=False)
    assert down.types[0].efficiency.rule == "declared:telemetry_unavailable"
    assert "데이터 저장소" in down.types[0].efficiency.sentence()[0]


def test_a_half_loaded_week_does_not_halve_the_workshop():
    """Two busy days (the newer ones) and three with a quarter of the work: the busier half by
    weight sets efficiency, not the average, which would be 0.56 × 0.55 = 0.31."""
    week = []
    for e in busy_week():
        light = (NOW_KST.date() - e.day).days % 2 == 0
        week.append(replace(e, run_ms=e.run_ms // 4) if light and e.run_ms else e)
    eff = calibrate(PROFILE, week, NOW_KST, NOW_KST, RULES)[1]
    assert eff.measured == pytest.approx(0.56)
    assert eff.busy_days == 2 and eff.evidence_days == 5


def test_network_spare_maps_every_generated_workshop():
    net = generate_network(200, seed=3)
    profiles = [profile_from_registry(w) for w in net.workshops]
    for w, p in zip(net.workshops, profiles):
        assert p.id == w.id and p.machine_types().keys() == w.machine_counts().keys()
        assert p.hours.day_minutes() == w.working_minutes_per_day
        assert p.declared_efficiency == w.declared_efficiency and p.families == w.families
    now = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 10:00 KST
    results = network_spare(profiles, [], {}, [], now)
    assert [r.workshop for r in results] == [p.id for p in profiles]
    for w, r in zip(net.workshops, results):
        counts = w.machine_counts()
        for t in r.types:
            tomorrow = t.days[1]
            assert tomorrow.capacity == pytest.approx(counts[t.machine_type] * w.working_minutes_per_day
                                                      * w.declared_efficiency)


def test_registry_fields_are_checked_with_their_names():
    w = generate_network(1, seed=1).workshops[0]
    with pytest.raises(ValueError, match="closes"):
        profile_from_registry(replace(w, closes="7 pm"))
    with pytest.raises(ValueError, match="weekday"):
        profile_from_registry(replace(w, workdays=("mon", "someday")))
    with pytest.raises(ValueError, match="efficiency"):
        profile_from_registry(replace(w, declared_efficiency=1.5))
    with pytest.raises(ValueError, match="after opening"):
        profile_from_registry(replace(w, opens="19:00", closes="09:00"))
    # CSV text for lists, and a field the network generator does not have (holidays).
    record = SimpleNamespace(**{f.name: getattr(w, f.name) for f in fields(w)}, days_off="2026-12-25")
    record.workdays = "mon;wed"
    p = profile_from_registry(record)
    assert p.hours.workdays == {0, 2} and p.hours.days_off == {date(2026, 12, 25)}
