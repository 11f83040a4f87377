"""Tests of pipeline/reduce.py: show identity, field merge, order independence.

Everything here runs without Ray except the one ``ray``-marked actor test, which
uses the session-scoped ``ray_session`` fixture from tests/conftest.py.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import subprocess
import sys
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.clusters import is_weekly_series
from pipeline.matching import venue_keys_match
from pipeline.reduce import ScheduleReducer, ShowKey, show_key
from pipeline.schema import WEEKDAYS, Dj, ParsedSchedule, Show, Vendor, Venue


def merge_shows(*shows: Show) -> list[Show]:
    """Merge shows given one per source (``img-0``, ``img-1``, ...)."""
    pairs = [(f"img-{i}", ParsedSchedule(shows=[show])) for i, show in enumerate(shows)]
    return ScheduleReducer.merge(pairs).shows


@dataclass(frozen=True)
class IdentityCase:
    """Two shows and whether they are one show."""

    id: str
    first: Show
    second: Show
    same: bool


IDENTITY_CASES = [
    IdentityCase(
        "different days stay apart (fault 7)",
        Show(venue_name="Bar", day="monday", start_time="21:00", time="9 PM"),
        Show(venue_name="Bar", day="saturday", start_time="21:00", time="9 PM"),
        same=False,
    ),
    IdentityCase(
        "different venues, same start, stay apart (fault 7)",
        Show(venue_name="Bar", day="friday", start_time="21:00"),
        Show(venue_name="Pub", day="friday", start_time="21:00"),
        same=False,
    ),
    IdentityCase(
        "leading The and case merge",
        Show(venue_name="The Rusty Nail", day="friday", start_time="21:00"),
        Show(venue_name="RUSTY NAIL", day="friday", start_time="21:00"),
        same=True,
    ),
    IdentityCase(
        "9 PM and 9:00 PM are one start time (fault 7)",
        Show(venue_name="Bar", day="friday", start_time="21:00", time="9 PM"),
        Show(venue_name="Bar", day="friday", start_time="21:00", time="9:00 PM"),
        same=True,
    ),
    IdentityCase(
        "different start times stay apart",
        Show(venue_name="Bar", day="friday", start_time="21:00"),
        Show(venue_name="Bar", day="friday", start_time="20:00"),
        same=False,
    ),
    IdentityCase(
        "different dates two weeks apart stay apart",
        Show(venue_name="Bar", date=dt.date(2025, 12, 12), start_time="21:00"),
        Show(venue_name="Bar", date=dt.date(2025, 12, 26), start_time="21:00"),
        same=False,
    ),
    IdentityCase(
        "dates a week apart are one weekly show",
        Show(venue_name="Bar", date=dt.date(2025, 12, 12), start_time="21:00"),
        Show(venue_name="Bar", date=dt.date(2025, 12, 19), start_time="21:00"),
        same=True,
    ),
    IdentityCase(
        "a dated sighting of the weekly night is the weekly show",
        Show(venue_name="Bar", day="friday", date=dt.date(2025, 12, 12), start_time="21:00"),
        Show(venue_name="Bar", day="friday", start_time="21:00"),
        same=True,
    ),
    IdentityCase(
        "a dated show at another start time is not the weekly show",
        Show(venue_name="Bar", day="friday", date=dt.date(2025, 12, 12), start_time="20:00"),
        Show(venue_name="Bar", day="friday", start_time="21:00"),
        same=False,
    ),
    IdentityCase(
        "known day never merges with unknown day",
        Show(venue_name="Bar", day="friday", start_time="21:00"),
        Show(venue_name="Bar", start_time="21:00"),
        same=False,
    ),
    IdentityCase(
        "unknown start, same time text (case and spaces folded)",
        Show(venue_name="Bar", day="friday", time="9PM - close"),
        Show(venue_name="Bar", day="friday", time="9pm-close"),
        same=True,
    ),
    IdentityCase(
        "unknown start, different time text",
        Show(venue_name="Bar", day="friday", time="9pm-close"),
        Show(venue_name="Bar", day="friday", time="late"),
        same=False,
    ),
    IdentityCase(
        "unknown start at different venues",
        Show(venue_name="Bar", day="friday", time="9pm-close"),
        Show(venue_name="Pub", day="friday", time="9pm-close"),
        same=False,
    ),
    IdentityCase(
        "unknown start on different days",
        Show(venue_name="Bar", day="friday", time="9pm-close"),
        Show(venue_name="Bar", day="sunday", time="9pm-close"),
        same=False,
    ),
    IdentityCase(
        "unknown start never merges with a known start",
        Show(venue_name="Bar", day="friday", time="9pm-close"),
        Show(venue_name="Bar", day="friday", start_time="21:00", time="9pm-close"),
        same=False,
    ),
]


@pytest.mark.parametrize("case", IDENTITY_CASES, ids=lambda case: case.id)
def test_show_identity(case: IdentityCase) -> None:
    merged = merge_shows(case.first, case.second)
    assert len(merged) == (1 if case.same else 2)
    assert sorted(s for show in merged for s in show.sources) == ["img-0", "img-1"]


@dataclass(frozen=True)
class FieldCase:
    """Two versions of one show and the merged value of one field."""

    id: str
    first: Show
    second: Show
    field_name: str
    expected: object


def friday_bar(**fields: object) -> Show:
    """The Bar's Friday 21:00 show with the given extra fields."""
    return Show.model_validate({"venue_name": "Bar", "day": "friday", "start_time": "21:00"} | fields)


FIELD_CASES = [
    FieldCase(
        "non-null wins over a surer null",
        friday_bar(dj_name=None, confidence=0.9),
        friday_bar(dj_name="DJ Steve", confidence=0.3),
        "dj_name",
        "DJ Steve",
    ),
    FieldCase(
        "higher confidence wins",
        friday_bar(description="karaoke night", confidence=0.4),
        friday_bar(description="Karaoke & drink specials", confidence=0.8),
        "description",
        "Karaoke & drink specials",
    ),
    FieldCase(
        "equal confidence: lexicographically larger text",
        friday_bar(end_time="01:00", confidence=0.5),
        friday_bar(end_time="02:00", confidence=0.5),
        "end_time",
        "02:00",
    ),
    FieldCase(
        "confidence is the maximum",
        friday_bar(confidence=0.2),
        friday_bar(confidence=0.7),
        "confidence",
        0.7,
    ),
    FieldCase(
        "sources are united and sorted",
        friday_bar(sources=["post-9"]),
        friday_bar(sources=["img-0"]),
        "sources",
        ["img-0", "img-1", "post-9"],
    ),
    FieldCase(
        "longer venue name is kept",
        Show(venue_name="Rusty Nail", day="friday", start_time="21:00", confidence=0.9),
        Show(venue_name="The Rusty Nail", day="friday", start_time="21:00", confidence=0.2),
        "venue_name",
        "The Rusty Nail",
    ),
]


@pytest.mark.parametrize("case", FIELD_CASES, ids=lambda case: case.id)
def test_field_merge_in_both_orders(case: FieldCase) -> None:
    for pair in [(case.first, case.second), (case.second, case.first)]:
        (merged,) = merge_shows(*pair)
        assert getattr(merged, case.field_name) == case.expected


def test_field_picks_do_not_depend_on_merge_order() -> None:
    """Each field keeps its own best confidence, not the merged item's maximum."""
    items = [
        friday_bar(description=None, confidence=0.9),
        friday_bar(description="low", confidence=0.5),
        friday_bar(description="mid", confidence=0.7),
    ]
    for order in [items, items[::-1], [items[1], items[2], items[0]]]:
        (merged,) = merge_shows(*order)
        assert merged.description == "mid"


def test_venues_merge_and_fill_address() -> None:
    result = ScheduleReducer.merge(
        [
            ("a.png", ParsedSchedule(venues=[Venue(name="Rusty Nail", city="Columbus")])),
            (
                "b.png",
                ParsedSchedule(
                    venues=[
                        Venue(name="The Rusty Nail", address="123 Main St", zip="43215"),
                        Venue(name="Oties", city="Dublin"),
                    ]
                ),
            ),
        ]
    )
    assert [venue.name for venue in result.venues] == ["Oties", "The Rusty Nail"]
    nail = result.venues[1]
    assert (nail.address, nail.city, nail.zip) == ("123 Main St", "Columbus", "43215")


def test_djs_merge_with_aliases_and_handles() -> None:
    result = ScheduleReducer.merge(
        [
            ("a.png", ParsedSchedule(djs=[Dj(name="DJ Max", social_handles=["@djmax614"])])),
            ("b.png", ParsedSchedule(djs=[Dj(name="Max", aliases=["KJ Max"], social_handles=["@Max"])])),
        ]
    )
    assert len(result.djs) == 1
    dj = result.djs[0]
    assert dj.name == "DJ Max"
    assert dj.aliases == ["KJ Max", "Max"]
    assert dj.social_handles == ["@Max", "@djmax614"]


def test_vendors_merge_by_folded_name() -> None:
    result = ScheduleReducer.merge(
        [
            ("a.png", ParsedSchedule(vendors=[Vendor(name="Karaoke by Steve")])),
            ("b.png", ParsedSchedule(vendors=[Vendor(name="KARAOKE BY STEVE!", website="x.io")])),
        ]
    )
    assert [(v.name, v.website) for v in result.vendors] == [("Karaoke by Steve", "x.io")]


def test_shows_sorted_by_venue_day_then_start() -> None:
    shows = merge_shows(
        Show(venue_name="Pub", day="monday", start_time="20:00"),
        Show(venue_name="Bar", day="saturday", start_time="19:00"),
        Show(venue_name="Bar", day="monday", start_time="21:00"),
        Show(venue_name="Bar", day="monday", start_time="19:00"),
    )
    assert [(s.venue_name, s.day, s.start_time) for s in shows] == [
        ("Bar", "monday", "19:00"),
        ("Bar", "monday", "21:00"),
        ("Bar", "saturday", "19:00"),
        ("Pub", "monday", "20:00"),
    ]


def test_venue_matcher_is_swappable_but_never_crosses_days() -> None:
    """A permissive matcher joins venues, yet different days stay separate."""
    reducer = ScheduleReducer(venues_match=lambda a, b: a[:5] == b[:5])
    schedule = ParsedSchedule(
        shows=[
            Show(venue_name="Oties", day="friday", start_time="21:00"),
            Show(venue_name="Oties Tavern & Grill", day="friday", start_time="21:00"),
            Show(venue_name="Oties Tavern & Grill", day="saturday", start_time="21:00"),
        ],
        venues=[Venue(name="Oties", phone="555"), Venue(name="Oties Tavern & Grill")],
    )
    reducer.add(schedule, "a.png")
    result = reducer.result()
    assert [(s.venue_name, s.day) for s in result.shows] == [
        ("Oties Tavern & Grill", "friday"),
        ("Oties Tavern & Grill", "saturday"),
    ]
    assert [(v.name, v.phone) for v in result.venues] == [("Oties Tavern & Grill", "555")]


def test_result_leaves_reducer_usable() -> None:
    reducer = ScheduleReducer()
    reducer.add(ParsedSchedule(shows=[friday_bar()]), "a.png")
    first = reducer.result()
    assert reducer.result() == first
    reducer.add(ParsedSchedule(shows=[friday_bar(dj_name="Max")]), "b.png")
    assert reducer.result().shows[0].sources == ["a.png", "b.png"]


def test_import_does_not_import_ray() -> None:
    code = "import sys, pipeline.reduce; sys.exit('ray' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- properties -------------------------------------------------------------

texts = st.sampled_from(["Max", "DJ Max", "karaoke", "Karaoke!", "late"])
maybe_text = st.none() | texts
confidences = st.sampled_from([0.1, 0.5, 0.5, 0.9, 1.0])
shows = st.builds(
    Show,
    venue_name=st.sampled_from(["The Rusty Nail", "Rusty Nail", "RUSTY NAIL", "Oties", "Bar"]),
    day=st.none() | st.sampled_from(WEEKDAYS[:3]),
    # two Fridays and two Wednesdays a week apart: dated sightings that make weekly shows
    date=st.none() | st.sampled_from([dt.date(2025, 12, d) for d in (12, 19, 24, 31)]),
    start_time=st.none() | st.sampled_from(["21:00", "19:30"]),
    end_time=st.none() | st.sampled_from(["01:00", "02:00"]),
    time=st.none() | st.sampled_from(["9PM", "9 pm", "9pm-close", "late"]),
    dj_name=maybe_text,
    description=maybe_text,
    confidence=confidences,
    sources=st.lists(st.sampled_from(["x", "y"]), max_size=2),
    seen_on_dates=st.lists(st.sampled_from([dt.date(2025, 12, 3), dt.date(2025, 12, 10)]), max_size=1),
)
venues = st.builds(
    Venue,
    name=st.sampled_from(["The Rusty Nail", "Rusty Nail", "Oties"]),
    address=st.none() | st.sampled_from(["123 Main St", "123 Main Street"]),
    city=st.none() | st.sampled_from(["Columbus", "Dublin"]),
    phone=st.none() | st.just("555-0100"),
    confidence=confidences,
)
djs = st.builds(
    Dj,
    name=st.sampled_from(["DJ Max", "Max", "KJ Max", "@djmax614", "Steve"]),
    aliases=st.lists(texts, max_size=2),
    social_handles=st.lists(st.sampled_from(["@djmax614", "@steve"]), max_size=2),
    confidence=confidences,
)
vendors = st.builds(
    Vendor,
    name=st.sampled_from(["Karaoke by Steve", "KARAOKE BY STEVE", "Sing Co"]),
    website=st.none() | st.sampled_from(["a.io", "b.io"]),
    confidence=confidences,
)
schedules = st.builds(
    ParsedSchedule,
    vendors=st.lists(vendors, max_size=2),
    venues=st.lists(venues, max_size=3),
    djs=st.lists(djs, max_size=3),
    shows=st.lists(shows, max_size=5),
)
inputs = st.lists(st.tuples(st.sampled_from(["a.png", "b.png", "c.png"]), schedules), max_size=5)


def reduce_all(pairs: list[tuple[str, ParsedSchedule]]) -> ScheduleReducer:
    reducer = ScheduleReducer()
    for source, schedule in pairs:
        reducer.add(schedule, source)
    return reducer


@settings(max_examples=150, deadline=None)
@given(pairs=inputs, data=st.data())
def test_any_add_order_gives_the_same_result(
    pairs: list[tuple[str, ParsedSchedule]], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(pairs))
    reshuffled = [
        (source, schedule.model_copy(update={"shows": data.draw(st.permutations(schedule.shows))}))
        for source, schedule in shuffled
    ]
    expected = reduce_all(pairs).result().to_wire()
    assert reduce_all(shuffled).result().to_wire() == expected
    assert reduce_all(reshuffled).result().to_wire() == expected


@settings(max_examples=100, deadline=None)
@given(pairs=inputs, data=st.data())
def test_adding_again_changes_nothing(pairs: list[tuple[str, ParsedSchedule]], data: st.DataObject) -> None:
    reducer = reduce_all(pairs)
    expected = reducer.result().to_wire()
    for source, schedule in data.draw(st.permutations(pairs)):
        reducer.add(schedule, source)
    assert reducer.result().to_wire() == expected


@settings(max_examples=100, deadline=None)
@given(pairs=inputs)
def test_one_show_per_key_and_every_key_kept(pairs: list[tuple[str, ParsedSchedule]]) -> None:
    """Nothing is merged across keys and nothing is lost, but dated sightings of a weekly night.

    A key missing from the output is a dated sighting whose date its weekly show (same
    venue, weekday and start) lists; a key new in the output is such a weekly show.
    """
    input_keys = {show_key(show) for _, schedule in pairs for show in schedule.shows}
    shows = reduce_all(pairs).result().shows
    output_keys: list[ShowKey] = [show_key(show) for show in shows]
    assert output_keys == sorted(set(output_keys))
    seen_on = {(show_key(show).venue, show_key(show).night): show.seen_on_dates for show in shows}
    for key in input_keys - set(output_keys):
        assert key.date is not None and key.date in seen_on[(key.venue, key.night)]
    for key, show in zip(output_keys, shows, strict=True):
        if key not in input_keys:
            assert show.day is not None and show.date is None and len(show.seen_on_dates) >= 2


@pytest.mark.parametrize("order", [0, 1])
def test_time_text_and_end_time_come_from_the_same_image(order: int) -> None:
    close = Show(
        venue_name="Crescent Lounge", day="saturday", start_time="21:00", time="9pm-close", confidence=0.9
    )
    late = Show(
        venue_name="Crescent Lounge",
        day="saturday",
        start_time="21:00",
        end_time="02:00",
        time="9PM-2AM",
        confidence=0.8,
    )
    pairs = [("a.png", ParsedSchedule(shows=[close])), ("b.png", ParsedSchedule(shows=[late]))]
    merged = ScheduleReducer.merge(pairs if order == 0 else pairs[::-1]).shows
    assert len(merged) == 1
    # the item that knows more of the time wins as a unit: never "9pm-close" with an end of 02:00
    assert (merged[0].time, merged[0].end_time) == ("9PM-2AM", "02:00")
    assert merged[0].confidence == 0.9


# --- fuzzy venues, venues by address, DJs by alias ----------------------------------


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("The Crescent Lounge", "Crescent Lounge", True),
        ("O'Nelly's", "ONellys", True),
        ("Sand Bar Station", "Sandbar Station", True),
        ("Oties", "Oties Tavern & Grill", True),
        ("Oneilly's Sports Pub", "O'Nelly's Sports Pub", True),  # OCR / typing slip
        ("Kelley's Pub", "Kelly's Tavern", False),
        ("Crescent Lounge", "Crescent Pub", False),
        ("Blue Moon Saloon", "Lucky Shamrock", False),
        ("Bar 145", "Bar 154", False),
    ],
)
def test_default_matcher_merges_spellings_of_one_venue(first: str, second: str, same: bool) -> None:
    merged = merge_shows(
        Show(venue_name=first, day="friday", start_time="21:00"),
        Show(venue_name=second, day="friday", start_time="21:00"),
    )
    assert len(merged) == (1 if same else 2)


def test_fuzzy_venues_never_merge_across_days_or_start_times() -> None:
    merged = merge_shows(
        Show(venue_name="The Crescent Lounge", day="friday", start_time="21:00"),
        Show(venue_name="Crescent Lounge", day="saturday", start_time="21:00"),
        Show(venue_name="Crescent Lounge", day="friday", start_time="20:00"),
    )
    assert len(merged) == 3


def test_exact_matcher_is_still_available() -> None:
    reducer = ScheduleReducer(venues_match=None)
    reducer.add(
        ParsedSchedule(
            shows=[
                Show(venue_name="Oties", day="friday", start_time="21:00"),
                Show(venue_name="Oties Tavern & Grill", day="friday", start_time="21:00"),
            ]
        ),
        "a.png",
    )
    assert len(reducer.result().shows) == 2


def test_venues_merge_by_name_and_address() -> None:
    result = ScheduleReducer.merge(
        [
            ("a.png", ParsedSchedule(venues=[Venue(name="Oties", address="5344 Center Street")])),
            ("b.png", ParsedSchedule(venues=[Venue(name="Oties Tavern & Grill", address="5344 Center St")])),
            ("c.png", ParsedSchedule(venues=[Venue(name="Oties Tavern & Grill", phone="(614) 555-0101")])),
            ("d.png", ParsedSchedule(venues=[Venue(name="Applebee's", address="1 Polaris Pkwy")])),
            ("e.png", ParsedSchedule(venues=[Venue(name="Applebees", address="77 Sawmill Rd")])),
        ]
    )
    assert sorted((v.name, v.address, v.phone) for v in result.venues) == [
        ("Applebee's", "1 Polaris Pkwy", None),  # two branches of a chain stay apart
        ("Applebees", "77 Sawmill Rd", None),
        ("Oties Tavern & Grill", "5344 Center Street", "(614) 555-0101"),
    ]


def test_djs_merge_by_alias_when_one_image_ties_them() -> None:
    pairs = [
        ("a.png", ParsedSchedule(djs=[Dj(name="Max", aliases=["DJ Max"], social_handles=["@djmax614"])])),
        (
            "b.png",
            ParsedSchedule(
                djs=[Dj(name="djmax614")],
                shows=[Show(venue_name="Bar", day="friday", start_time="21:00", dj_name="djmax614")],
            ),
        ),
        ("c.png", ParsedSchedule(djs=[Dj(name="Steve")])),
    ]
    for order in (pairs, pairs[::-1]):
        result = ScheduleReducer.merge(order)
        assert [dj.name for dj in result.djs] == ["Max", "Steve"]
        assert result.djs[0].aliases == ["DJ Max", "djmax614"]
        assert result.shows[0].dj_name == "Max"  # credited to the merged DJ's name


def test_djs_without_a_tie_stay_apart() -> None:
    result = ScheduleReducer.merge([("a.png", ParsedSchedule(djs=[Dj(name="Max"), Dj(name="@djmax614")]))])
    assert len(result.djs) == 2


fuzzy_shows = st.builds(
    Show,
    venue_name=st.sampled_from(
        [
            "Oties",
            "Oties Tavern & Grill",
            "O'Nelly's Sports Pub",
            "Oneilly's Sports Pub",
            "Kelley's Pub",
            "Kelly's Tavern",
            "The Crescent Lounge",
            "Crescent Lounge",
        ]
    ),
    day=st.sampled_from(WEEKDAYS[:2]),
    start_time=st.sampled_from(["21:00", "20:00"]),
    dj_name=st.none() | st.sampled_from(["Max", "DJ Max", "djmax614"]),
    confidence=confidences,
)
fuzzy_djs = st.builds(
    Dj,
    name=st.sampled_from(["DJ Max", "Max", "djmax614", "Steve"]),
    aliases=st.lists(st.sampled_from(["Max", "@djmax614", "KJ Steve"]), max_size=2),
    confidence=confidences,
)
fuzzy_inputs = st.lists(
    st.tuples(
        st.sampled_from(["a.png", "b.png", "c.png"]),
        st.builds(
            ParsedSchedule, shows=st.lists(fuzzy_shows, max_size=5), djs=st.lists(fuzzy_djs, max_size=2)
        ),
    ),
    max_size=5,
)


@settings(max_examples=150, deadline=None)
@given(pairs=fuzzy_inputs, data=st.data())
def test_fuzzy_merge_is_order_independent(
    pairs: list[tuple[str, ParsedSchedule]], data: st.DataObject
) -> None:
    expected = reduce_all(pairs).result().to_wire()
    assert reduce_all(data.draw(st.permutations(pairs))).result().to_wire() == expected


# --- blocking: the merge finds venue pairs without comparing all of them -----------


def pairwise_matcher(first: str, second: str) -> bool:
    """The default rule behind another callable, so the reducer asks it about every pair."""
    return venue_keys_match(first, second)


FILLER_WORDS = ["zan", "qui", "bel", "mor", "tav", "ril", "kor", "vex", "lud", "pim", "sor", "gan"]


def filler_venues(count: int, seed: int = 5) -> list[str]:
    """Distinct made-up venue names, enough to fill a bucket past the small-group shortcut."""
    rng = random.Random(seed)
    names: set[str] = set()
    while len(names) < count:
        word = "".join(rng.choice(FILLER_WORDS) for _ in range(rng.randint(2, 4)))
        names.add(f"{word.title()} {rng.choice(['Tavern', 'Pub', 'Lounge', 'Grill', 'Station'])}")
    return sorted(names)


def one_slot(names: list[str], day: str = "friday", start: str = "21:00") -> list[tuple[str, ParsedSchedule]]:
    return [
        (f"img-{i}", ParsedSchedule(shows=[Show(venue_name=name, day=day, start_time=start)]))
        for i, name in enumerate(names)
    ]


def test_a_typo_merges_among_hundreds_of_venues_in_one_slot() -> None:
    pairs = one_slot([*filler_venues(300), "Oneilly's Sports Pub", "O'Nelly's Sports Pub"])
    shows = ScheduleReducer.merge(pairs).shows
    assert [show.venue_name for show in shows if "Sports" in show.venue_name] == ["Oneilly's Sports Pub"]
    reference = ScheduleReducer(venues_match=pairwise_matcher)
    for source, schedule in pairs:
        reference.add(schedule, source)
    assert [show.to_wire() for show in shows] == [show.to_wire() for show in reference.result().shows]


@pytest.mark.parametrize(
    ("first", "second"),
    [("Zanzibar Jukebox Lounge", "Zanzibar Quokka Lounge"), ("Route 66 Bar", "Route 67 Bar")],
)
def test_names_differing_only_in_a_rare_word_or_number_stay_apart_among_hundreds(
    first: str, second: str
) -> None:
    names = [*filler_venues(300), first, second]
    result = ScheduleReducer.merge(
        [*one_slot(names), *((f"v-{i}", ParsedSchedule(venues=[Venue(name=n)])) for i, n in enumerate(names))]
    )
    assert {first, second} <= {show.venue_name for show in result.shows}
    assert {first, second} <= {venue.name for venue in result.venues}


def test_blocked_merge_equals_the_pairwise_merge_on_a_busy_world() -> None:
    rng = random.Random(21)
    names = filler_venues(250, seed=21)
    names += [name.upper() for name in rng.sample(names, 40)]  # other case
    names += [f"The {name}" for name in rng.sample(names, 40)]  # a leading The
    names += [name[:5] + name[6:] for name in rng.sample(names, 40)]  # a dropped letter
    pairs: list[tuple[str, ParsedSchedule]] = []
    for i, name in enumerate(names):
        address = f"{rng.randint(1, 40)} Main St" if rng.random() < 0.3 else None
        show = Show(venue_name=name, day=rng.choice(WEEKDAYS[:2]), start_time=rng.choice(["20:00", "21:00"]))
        pairs.append((f"img-{i}", ParsedSchedule(venues=[Venue(name=name, address=address)], shows=[show])))
    blocked = ScheduleReducer.merge(pairs)
    reference = ScheduleReducer(venues_match=pairwise_matcher)
    for source, schedule in pairs:
        reference.add(schedule, source)
    expected = reference.result()
    assert len(expected.shows) < len(pairs)  # the respellings really merged
    assert blocked.to_wire() == expected.to_wire()


# --- weekly and dated sightings of one night (issue 23) -----------------------------

WED_10, WED_17, WED_24 = dt.date(2026, 6, 10), dt.date(2026, 6, 17), dt.date(2026, 6, 24)


def crescent(**fields: object) -> Show:
    """A Wednesday 21:00 show at the Crescent Lounge, weekly unless a date is given."""
    return Show.model_validate({"venue_name": "Crescent Lounge", "start_time": "21:00"} | fields)


def test_a_dated_sighting_joins_its_weekly_show_and_keeps_its_date() -> None:
    weekly = crescent(
        venue_name="The Crescent Lounge", day="wednesday", time="Every Wednesday 9PM", confidence=0.6
    )
    dated = crescent(day="wednesday", date=WED_10, end_time="02:00", time="9PM-2AM", dj_name="DJ Max")
    for pair in [(weekly, dated), (dated, weekly)]:
        (show,) = merge_shows(*pair)
        assert (show.venue_name, show.day, show.date, show.start_time) == (
            "The Crescent Lounge", "wednesday", None, "21:00",
        )  # fmt: skip
        assert show.seen_on_dates == [WED_10]
        # what only the dated sighting knew is kept, as for any merge
        assert (show.end_time, show.time, show.dj_name) == ("02:00", "9PM-2AM", "DJ Max")
        assert show.sources == ["img-0", "img-1"]
        assert show.to_wire()["seenOnDates"] == ["2026-06-10"]


def test_dated_sightings_on_many_dates_join_one_weekly_show() -> None:
    shows = merge_shows(
        crescent(day="wednesday", dj_name="DJ Max"),
        crescent(date=WED_24),
        crescent(day="wednesday", date=WED_10),
        crescent(date=WED_10, end_time="01:00"),
    )
    assert [(s.day, s.date, s.seen_on_dates, s.end_time, s.dj_name) for s in shows] == [
        ("wednesday", None, [WED_10, WED_24], "01:00", "DJ Max")
    ]


def test_two_dated_sightings_a_week_apart_are_one_weekly_show() -> None:
    shows = merge_shows(crescent(date=WED_10, dj_name="DJ Max"), crescent(date=WED_17, end_time="02:00"))
    assert [(s.day, s.date, s.seen_on_dates, s.end_time, s.dj_name) for s in shows] == [
        ("wednesday", None, [WED_10, WED_17], "02:00", "DJ Max")
    ]


def test_dated_sightings_two_weeks_apart_stay_dated() -> None:
    """Two weeks or more apart fits a fortnightly or monthly night: no evidence of a weekly one."""
    shows = merge_shows(crescent(date=WED_10), crescent(date=WED_24), crescent(date=WED_10, dj_name="DJ Max"))
    assert [(s.day, s.date, s.seen_on_dates, s.dj_name) for s in shows] == [
        (None, WED_10, [], "DJ Max"),
        (None, WED_24, [], None),
    ]


def test_a_one_off_stays_dated() -> None:
    one_off = crescent(day="wednesday", date=WED_10, description="Charity karaoke night")
    shows = merge_shows(one_off, crescent(venue_name="Blue Moon Saloon", day="wednesday"))
    assert [(s.venue_name, s.day, s.date, s.seen_on_dates) for s in shows] == [
        ("Blue Moon Saloon", "wednesday", None, []),
        ("Crescent Lounge", "wednesday", WED_10, []),
    ]


@pytest.mark.parametrize(
    "dated",
    [
        pytest.param(crescent(date=WED_10, start_time="20:00"), id="another start time"),
        pytest.param(crescent(date=WED_10 + dt.timedelta(days=1)), id="another weekday"),
        pytest.param(crescent(venue_name="Crescent Pub", date=WED_10), id="another venue"),
        pytest.param(crescent(date=WED_10, day="thursday"), id="a written day that is not the date's"),
        pytest.param(crescent(date=WED_10, start_time=None, time="9pm"), id="no start time read"),
    ],
)
def test_a_dated_show_unlike_the_weekly_night_never_joins_it(dated: Show) -> None:
    """Alone or with its next week's sighting (which may make its own weekly show)."""
    weekly = crescent(day="wednesday")
    next_week = dated.model_copy(update={"date": dated.date + dt.timedelta(days=7) if dated.date else None})
    for sightings in [(weekly, dated), (weekly, dated, next_week)]:
        shows = merge_shows(*sightings)
        assert [s for s in shows if "img-0" in s.sources] == [
            weekly.model_copy(update={"sources": ["img-0"]})
        ]
        assert all(s.sources == ["img-0"] or "img-0" not in s.sources for s in shows)


def test_dated_sightings_a_week_apart_never_join_across_start_times_or_venues() -> None:
    shows = merge_shows(
        crescent(date=WED_10),
        crescent(date=WED_17, start_time="20:00"),
        crescent(date=WED_17, venue_name="Bar"),
    )
    assert [(s.venue_name, s.date) for s in shows] == [
        ("Bar", WED_17), ("Crescent Lounge", WED_10), ("Crescent Lounge", WED_17),
    ]  # fmt: skip


def test_a_dated_show_matching_two_weekly_shows_stays_dated() -> None:
    """'Bar' names either 'Bar Pub' or 'Bar Inn' (a matcher that is not transitive): no guess."""
    pairs = {frozenset({"bar", "barpub"}), frozenset({"bar", "barinn"})}
    reducer = ScheduleReducer(venues_match=lambda a, b: a == b or frozenset({a, b}) in pairs)
    shows = [crescent(venue_name=name, day="wednesday") for name in ("Bar Pub", "Bar Inn")]
    reducer.add(ParsedSchedule(shows=[*shows, crescent(venue_name="Bar", date=WED_10)]), "a.png")
    assert [(s.venue_name, s.date) for s in reducer.result().shows] == [
        ("Bar", WED_10), ("Bar Inn", None), ("Bar Pub", None),
    ]  # fmt: skip


def test_exact_matcher_folds_dated_sightings_of_the_same_name() -> None:
    reducer = ScheduleReducer(venues_match=None)
    dated = [
        crescent(date=WED_10),
        crescent(date=WED_17),
        crescent(venue_name="Crescent Lounge Bar", date=WED_24),
    ]
    reducer.add(ParsedSchedule(shows=dated), "a.png")
    assert [(s.venue_name, s.day, s.date, s.seen_on_dates) for s in reducer.result().shows] == [
        ("Crescent Lounge", "wednesday", None, [WED_10, WED_17]),
        ("Crescent Lounge Bar", None, WED_24, []),
    ]


SIGHTINGS = [
    ("week-view-1.png", ParsedSchedule(shows=[crescent(day="wednesday", date=WED_10, dj_name="DJ Max")])),
    (
        "every-wednesday.png",
        ParsedSchedule(shows=[crescent(venue_name="The Crescent Lounge", day="wednesday")]),
    ),
    (
        "week-view-2.png",
        ParsedSchedule(shows=[crescent(date=WED_17, end_time="02:00"), crescent(date=WED_24)]),
    ),
    ("flyer.png", ParsedSchedule(shows=[crescent(venue_name="Oties", date=WED_10, start_time="20:00")])),
    (
        "week-view-3.png",
        ParsedSchedule(shows=[crescent(venue_name="Oties Tavern", date=WED_17, start_time="20:00")]),
    ),
    ("one-off.png", ParsedSchedule(shows=[crescent(venue_name="Blue Moon Saloon", date=WED_24)])),
]


def test_weekly_folding_does_not_depend_on_the_order_images_arrive_in() -> None:
    expected = ScheduleReducer.merge(SIGHTINGS).to_wire()
    assert [(s["venueName"], s["day"], s["date"], s.get("seenOnDates", [])) for s in expected["shows"]] == [
        ("Blue Moon Saloon", None, "2026-06-24", []),
        ("The Crescent Lounge", "wednesday", None, ["2026-06-10", "2026-06-17", "2026-06-24"]),
        ("Oties Tavern", "wednesday", None, ["2026-06-10", "2026-06-17"]),
    ]
    for order in itertools.permutations(SIGHTINGS):
        assert ScheduleReducer.merge(order).to_wire() == expected


@pytest.mark.parametrize(
    ("dates", "weekly"),
    [
        ([WED_10, WED_17], True),
        ([WED_24, WED_10, WED_17], True),
        ([WED_10, WED_24], False),  # a fortnight: could be every other week
        ([WED_10, WED_10 + dt.timedelta(days=28)], False),  # could be every 2nd Wednesday
        ([WED_10], False),
    ],
)
def test_a_weekly_series_needs_two_dates_one_week_apart(dates: list[dt.date], weekly: bool) -> None:
    assert is_weekly_series(dates) is weekly
