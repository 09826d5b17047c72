"""Energy profiles: the 15-minute building format, units, clear errors, and what a prosumer
brings to a game from its profile."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from prosumer_client.errors import ProfileError
from prosumer_client.profiles import Profile, parse
from prosumer_client.sources import Fixed, FromProfile

EXAMPLE = Path(__file__).resolve().parents[2] / "prosumer_client/profiles/building_15min.csv"


def _unix(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def test_example_profile_is_one_day_with_a_midday_surplus_and_evening_deficit() -> None:
    profile = Profile.load(EXAMPLE)
    assert len(profile) == 96
    assert profile.interval.total_seconds() == 900
    night, noon, evening = profile.periods[8], profile.periods[52], profile.periods[78]
    assert night.pv_kwh == 0 and night.load_kwh > 0
    assert noon.net_kwh > 0.5  # PV bell at midday
    assert evening.net_kwh < -0.5  # the evening load peak
    assert max(p.load_kwh for p in profile.periods[24:36]) > 2 * night.load_kwh  # morning


def test_period_by_time_of_day_repeats_every_day() -> None:
    profile = Profile.load(EXAMPLE)
    # 13:05 UTC on another date is the 13:00 row (index 52), the profile repeating daily.
    assert profile.index_at(datetime(2031, 1, 9, 13, 5)) == 52
    assert profile.at_timestamp(_unix("2031-01-09 13:05")).start == datetime(2020, 5, 2, 13, 0)
    # The profile's clock at UTC+2: 11:05 UTC is 13:05 there.
    assert (
        profile.at_timestamp(_unix("2031-01-09 11:05"), utc_offset_hours=2) == profile.periods[52]
    )
    assert profile.for_game(1) == profile.periods[0]
    assert profile.for_game(97) == profile.periods[0]
    assert profile.for_game(53) == profile.periods[52]


def test_seed_format_in_kw_is_power_over_the_interval() -> None:
    text = (
        "AMI_1,AMI_2,AMI_3,total_load(kW),PV_generate(kW),net_load(kW),TIME\n"
        "8,12.16,1.8,21.96,0,21.96,2020/5/2 00:00\n"
        "8.5,10.88,2.2,21.58,4,17.58,2020/5/2 00:15\n"
    )
    profile = parse(text, "seed.csv")
    assert profile.periods[0].load_kwh == pytest.approx(21.96 / 4)
    assert profile.periods[1].pv_kwh == pytest.approx(1.0)
    assert profile.periods[1].start == datetime(2020, 5, 2, 0, 15)


def test_iso_times_wh_units_and_explicit_columns() -> None:
    text = (
        "stamp,house (Wh),roof (Wh)\n"
        "2024-06-01T10:00:00+02:00,500,1500\n"
        "2024-06-01T11:00:00+02:00,700,100\n"
    )
    profile = parse(text, time_column="stamp", load_column="house", pv_column="roof (Wh)")
    assert profile.interval.total_seconds() == 3600
    assert profile.periods[0].start == datetime(2024, 6, 1, 8, 0)  # stored as UTC
    assert profile.periods[0].net_kwh == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("time,pv\n2020/5/2 00:00,1\n", "no load column (looked for load, total_load"),
        ("time,load,pv\n2020/5/2 00:00,1,2\n", "at least two rows"),
        ("when,load,pv\n2020/5/2 00:00,1,2\n2020/5/2 00:15,1,2\n", "no time column"),
        (
            "time,load,pv\n2020/5/2 00:00,1,2\n2020/5/2 00:15,abc,2\n",
            "line 3: column 'load' has 'abc', not a number",
        ),
        (
            "time,load,pv\n2020/5/2 00:00,1,2\n2020/5/2 00:15,1,-2\n",
            "line 3: column 'pv' has '-2'; energy must be a finite number >= 0",
        ),
        ("time,load,pv\n2020/5/2 00:00,1,nan\n2020/5/2 00:15,1,2\n", "line 2: column 'pv'"),
        (
            "time,load,pv\nyesterday,1,2\n2020/5/2 00:15,1,2\n",
            "line 2: column 'time' has 'yesterday', not a time",
        ),
        (
            "time,load,pv\n2020/5/2 00:00,1,2\n2020/5/2 00:15,1,2\n2020/5/2 00:45,1,2\n",
            "line 4: 2020-05-02 00:45:00 is 0:30:00 after the previous row",
        ),
        ("time,load,pv\n2020/5/2 00:15,1,2\n2020/5/2 00:00,1,2\n", "times must increase"),
        ("time,load,pv\n2020/5/2 00:00,1\n2020/5/2 00:15,1,2\n", "line 2: 2 fields"),
        ("time,load (MWh),pv\n2020/5/2 00:00,1,2\n2020/5/2 00:15,1,2\n", "unit 'mwh'"),
    ],
)
def test_bad_profiles_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ProfileError) as info:
        parse(text, "p.csv")
    assert message in str(info.value)
    assert "p.csv" in str(info.value)


def test_missing_file_and_unknown_explicit_column(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="not found"):
        Profile.load(tmp_path / "nope.csv")
    with pytest.raises(ProfileError, match="no column 'roof'"):
        Profile.load(EXAMPLE, pv_column="roof")


def test_profile_source_offers_surplus_demands_deficit_and_sits_out_zero() -> None:
    text = (
        "time,load,pv\n2020/5/2 00:00,1.0,3.5\n2020/5/2 00:15,2.0,0.5\n2020/5/2 00:30,1.0,1.0002\n"
    )
    source = FromProfile(parse(text), price=0.07, period="game", scale=2.0)
    offer = source.intent(1, 0)
    assert offer is not None and offer.role == "seller" and offer.price == 0.07
    assert offer.kwh == pytest.approx(5.0)
    demand = source.intent(2, 0)
    assert demand is not None and demand.role == "buyer" and demand.kwh == pytest.approx(3.0)
    assert demand.price is None
    assert source.intent(3, 0) is None  # 0.4 Wh: nothing to trade
    by_time = FromProfile(parse(text), price=0.07)
    at_0015 = by_time.intent(9, _unix("2030-03-03 00:20"))
    assert at_0015 is not None and at_0015.role == "buyer"
    assert "profile" in source.describe() and "15 min" in source.describe()


def test_fixed_sources_describe_themselves_like_the_original() -> None:
    assert Fixed("seller", 350, 0.14).describe() == "seller with offer amount: 350, price: 0.14"
    assert Fixed("buyer", 34).describe() == "buyer with demand amount: 34"
    intent = Fixed("buyer", 34).intent(5, 0)
    assert intent is not None and intent.role == "buyer" and intent.kwh == 34
