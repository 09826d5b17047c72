"""Energy profiles: a prosumer's load and PV production per period, from a CSV file.

The format is the 15-minute building one: a time column plus a load and a PV column, one row
per interval, evenly spaced (the interval is the spacing of the first two rows):

    TIME,total_load(kWh),PV_generate(kWh)
    2020/5/2 00:00,0.21,0
    2020/5/2 00:15,0.19,0

Columns are found by name, case-insensitively and ignoring a unit in parentheses: time
(`time`, `timestamp`, `datetime`, `date`, `inserted_at`, ...), load (`load`, `total_load`,
`consumption`, ...), PV (`pv`, `pv_generate`, `generation`, `production`, `solar`, ...), or
named explicitly. Values are energy per interval in kWh; a header unit of `(Wh)` divides by
1000, and `(kW)`/`(W)` is average power over the interval, multiplied by its length in hours.
Times are `YYYY-MM-DD HH:MM[:SS]` (ISO, `T` allowed), `YYYY/MM/DD HH:MM[:SS]` or unix seconds.

A period's net energy is PV - load: positive is a surplus to offer, negative a deficit to buy.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .errors import ProfileError

TIME_NAMES = (
    "time",
    "timestamp",
    "datetime",
    "date_time",
    "inserted_at",
    "date",
    "interval_start",
    "period",
)
LOAD_NAMES = ("load", "total_load", "load_kwh", "consumption", "consumption_kwh", "demand")
PV_NAMES = ("pv", "pv_generate", "pv_generation", "pv_kwh", "generation", "production", "solar")
_FORMATS = ("%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d")
_UNIT = re.compile(r"\(([^)]*)\)\s*$")


@dataclass(frozen=True)
class Period:
    start: datetime  # naive: the profile's own clock (UTC if the file gave time zones)
    load_kwh: float
    pv_kwh: float

    @property
    def net_kwh(self) -> float:
        """PV - load: a surplus when positive, a deficit when negative."""
        return self.pv_kwh - self.load_kwh


@dataclass(frozen=True)
class Profile:
    path: str
    periods: tuple[Period, ...]
    interval: timedelta

    def __len__(self) -> int:
        return len(self.periods)

    @property
    def span(self) -> timedelta:
        return self.interval * len(self.periods)

    def index_at(self, when: datetime) -> int:
        """The row whose interval contains `when` (naive, the profile's clock), the profile
        repeating itself after its span (a one-day profile matches by time of day)."""
        offset = (when - self.periods[0].start) % self.span
        return int(offset // self.interval)

    def at(self, when: datetime) -> Period:
        return self.periods[self.index_at(when)]

    def at_timestamp(self, unix_seconds: float, utc_offset_hours: float = 0.0) -> Period:
        """The period containing the chain time `unix_seconds`, the profile's clock being
        UTC + `utc_offset_hours`."""
        moment = datetime.fromtimestamp(unix_seconds, UTC).replace(tzinfo=None)
        return self.at(moment + timedelta(hours=utc_offset_hours))

    def for_game(self, game_id: int) -> Period:
        """Row (game_id - 1) modulo the profile's length."""
        return self.periods[(game_id - 1) % len(self.periods)]

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        time_column: str | None = None,
        load_column: str | None = None,
        pv_column: str | None = None,
    ) -> Profile:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise ProfileError(f"profile {p} not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ProfileError(f"profile {p} cannot be read: {exc}") from None
        return parse(
            text, str(p), time_column=time_column, load_column=load_column, pv_column=pv_column
        )


def parse(
    text: str,
    source: str = "<profile>",
    *,
    time_column: str | None = None,
    load_column: str | None = None,
    pv_column: str | None = None,
) -> Profile:
    rows = [r for r in csv.reader(text.splitlines()) if any(c.strip() for c in r)]
    if not rows:
        raise ProfileError(f"profile {source} is empty")
    header = [h.strip() for h in rows[0]]
    t_col = _column(header, time_column, TIME_NAMES, "time", "--time-column", source)
    l_col = _column(header, load_column, LOAD_NAMES, "load", "--load-column", source)
    p_col = _column(header, pv_column, PV_NAMES, "PV", "--pv-column", source)
    if len(rows) < 3:
        raise ProfileError(
            f"profile {source} needs at least two rows of data (it has "
            f"{len(rows) - 1}): the interval is their spacing"
        )
    times: list[datetime] = []
    loads: list[float] = []
    pvs: list[float] = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) < len(header):
            raise ProfileError(
                f"profile {source} line {line}: {len(row)} fields, the header has {len(header)}"
            )
        times.append(_time(row[t_col], header[t_col], source, line))
        loads.append(_number(row[l_col], header[l_col], source, line))
        pvs.append(_number(row[p_col], header[p_col], source, line))
    interval = times[1] - times[0]
    if interval <= timedelta(0):
        raise ProfileError(
            f"profile {source} line 3: times must increase ({times[0]} then {times[1]})"
        )
    for k in range(2, len(times)):
        if times[k] - times[k - 1] != interval:
            raise ProfileError(
                f"profile {source} line {k + 2}: {times[k]} is {times[k] - times[k - 1]} after "
                f"the previous row; rows must be evenly spaced ({interval})"
            )
    hours = interval.total_seconds() / 3600
    load_factor = _factor(header[l_col], hours, source)
    pv_factor = _factor(header[p_col], hours, source)
    periods = tuple(
        Period(t, load * load_factor, pv * pv_factor)
        for t, load, pv in zip(times, loads, pvs, strict=True)
    )
    return Profile(source, periods, interval)


def _normalise(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", _UNIT.sub("", name).strip().lower())


def _column(
    header: list[str],
    explicit: str | None,
    names: tuple[str, ...],
    what: str,
    flag: str,
    source: str,
) -> int:
    normal = [_normalise(h) for h in header]
    if explicit is not None:
        for k, (raw, norm) in enumerate(zip(header, normal, strict=True)):
            if explicit == raw or _normalise(explicit) == norm:
                return k
        raise ProfileError(
            f"profile {source} has no column {explicit!r} (the header has: {', '.join(header)})"
        )
    for name in names:
        if name in normal:
            return normal.index(name)
    raise ProfileError(
        f"profile {source} has no {what} column (looked for "
        f"{', '.join(names)}; the header has: {', '.join(header)}); "
        f"name it with {flag}"
    )


def _time(cell: str, column: str, source: str, line: int) -> datetime:
    value = cell.strip()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None:
        for fmt in _FORMATS:
            try:
                moment = datetime.strptime(value, fmt)
                break
            except ValueError:
                continue
    if moment is None:
        try:
            moment = datetime.fromtimestamp(float(value), UTC)
        except (ValueError, OverflowError, OSError):
            raise ProfileError(
                f"profile {source} line {line}: column {column!r} has "
                f"{value!r}, not a time (YYYY-MM-DD HH:MM, YYYY/MM/DD HH:MM "
                "or unix seconds)"
            ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _number(cell: str, column: str, source: str, line: int) -> float:
    value = cell.strip()
    try:
        number = float(value)
    except ValueError:
        raise ProfileError(
            f"profile {source} line {line}: column {column!r} has {value!r}, not a number"
        ) from None
    if not math.isfinite(number) or number < 0:
        raise ProfileError(
            f"profile {source} line {line}: column {column!r} has {value!r}; "
            "energy must be a finite number >= 0"
        )
    return number


def _factor(column: str, hours: float, source: str) -> float:
    """Multiplier from the column's unit to kWh per interval."""
    match = _UNIT.search(column)
    unit = match.group(1).strip().lower() if match else "kwh"
    factors = {"kwh": 1.0, "wh": 1e-3, "kw": hours, "w": hours * 1e-3}
    if unit not in factors:
        raise ProfileError(
            f"profile {source}: column {column!r} has unit {unit!r}; use kWh, Wh, kW or W"
        )
    return factors[unit]
