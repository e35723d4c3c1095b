"""Chinese retail calendar 2024-2027: public holidays, shopping festivals, weekday shape.

Footfall and sales in a Chinese mall are driven by the week (weekends ~1.4x), by the
public holidays (golden weeks) and by the e-commerce festivals that malls mirror
with their own promotions (618, Double 11, Double 12). Analytics on the generated
data should be able to rediscover these effects, so they are all in one table here.

Holiday dates follow the State Council notices for 2024-2026; 2027 is approximated
from the lunar calendar (the notice is not out yet). Make-up working days (调休) are
ignored: a Saturday is always a weekend day here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

# Relative traffic by weekday, Monday first; mean over a week is ~1.
WEEKDAY_FACTOR = (0.86, 0.84, 0.88, 0.92, 1.06, 1.40, 1.30)
HOLIDAY_BASE = 1.35  # a public holiday behaves like a weekend day...

# Share of receipts per opening hour (10:00-21:59): lunch and dinner peaks.
HOUR_WEIGHTS = {
    10: 0.030,
    11: 0.060,
    12: 0.110,
    13: 0.110,
    14: 0.080,
    15: 0.070,
    16: 0.070,
    17: 0.080,
    18: 0.110,
    19: 0.125,
    20: 0.100,
    21: 0.055,
}
OPEN_HOUR, CLOSE_HOUR = 10, 22

# Lunar-calendar holidays: (first day off, last day off, main day).
_LUNAR = {
    2024: {
        "spring_festival": (date(2024, 2, 10), date(2024, 2, 17), date(2024, 2, 10)),
        "qingming": (date(2024, 4, 4), date(2024, 4, 6), date(2024, 4, 4)),
        "dragon_boat": (date(2024, 6, 8), date(2024, 6, 10), date(2024, 6, 10)),
        "mid_autumn": (date(2024, 9, 15), date(2024, 9, 17), date(2024, 9, 17)),
    },
    2025: {
        "spring_festival": (date(2025, 1, 28), date(2025, 2, 4), date(2025, 1, 29)),
        "qingming": (date(2025, 4, 4), date(2025, 4, 6), date(2025, 4, 4)),
        "dragon_boat": (date(2025, 5, 31), date(2025, 6, 2), date(2025, 5, 31)),
        "mid_autumn": (date(2025, 10, 6), date(2025, 10, 6), date(2025, 10, 6)),
    },
    2026: {
        "spring_festival": (date(2026, 2, 15), date(2026, 2, 23), date(2026, 2, 17)),
        "qingming": (date(2026, 4, 4), date(2026, 4, 6), date(2026, 4, 5)),
        "dragon_boat": (date(2026, 6, 19), date(2026, 6, 21), date(2026, 6, 19)),
        "mid_autumn": (date(2026, 9, 25), date(2026, 9, 27), date(2026, 9, 25)),
    },
    2027: {  # approximated
        "spring_festival": (date(2027, 2, 5), date(2027, 2, 11), date(2027, 2, 6)),
        "qingming": (date(2027, 4, 3), date(2027, 4, 5), date(2027, 4, 5)),
        "dragon_boat": (date(2027, 6, 9), date(2027, 6, 11), date(2027, 6, 9)),
        "mid_autumn": (date(2027, 9, 15), date(2027, 9, 17), date(2027, 9, 15)),
    },
}
# National Day golden week (2025 merges with Mid-Autumn up to Oct 8).
_NATIONAL_DAY_END = {2024: 7, 2025: 8, 2026: 7, 2027: 7}

YEARS = tuple(sorted(_LUNAR))


@dataclass(frozen=True)
class DayInfo:
    day: date
    name: str | None  # holiday or festival label, None on ordinary days
    public_holiday: bool
    factor: float  # expected traffic relative to an ordinary weekday average


def _span(first: date, last: date):
    d = first
    while d <= last:
        yield d
        d += timedelta(days=1)


def _events(year: int) -> dict[date, tuple[str, float, bool]]:
    """date -> (label, lift, public holiday) for one year; later entries win."""
    ev: dict[date, tuple[str, float, bool]] = {}
    lunar = _LUNAR[year]
    ev[date(year, 1, 1)] = ("new_year", 1.30, True)
    ev[date(year, 2, 14)] = ("valentines_day", 1.15, False)  # overridden by the festival

    # Spring Festival: two weeks of New-Year-goods shopping before the eve, a quiet eve
    # and first day (family at home), then a strong holiday week.
    sf_first, sf_last, sf_day = lunar["spring_festival"]
    eve = sf_day - timedelta(days=1)
    for d in _span(eve - timedelta(days=14), eve - timedelta(days=1)):
        ev[d] = ("spring_festival_shopping", 1.30, False)
    for d in _span(sf_first, sf_last):
        ev[d] = ("spring_festival", 1.60, True)
    ev[eve] = ("spring_festival_eve", 0.70, sf_first <= eve)
    ev[sf_day] = ("spring_festival", 0.95, True)

    for d in _span(*lunar["qingming"][:2]):
        ev[d] = ("qingming", 1.15, True)
    for d in _span(date(year, 5, 1), date(year, 5, 5)):
        ev[d] = ("labour_day", 1.40, True)
    # 618: mall promotions ride on the e-commerce festival; warm-up from June 1.
    for d in _span(date(year, 6, 1), date(year, 6, 15)):
        ev[d] = ("618_warmup", 1.10, False)
    for d in _span(date(year, 6, 16), date(year, 6, 18)):
        ev[d] = ("618", 1.45 if d.day < 18 else 1.75, False)
    for d in _span(*lunar["dragon_boat"][:2]):
        ev[d] = ("dragon_boat", 1.20, True)
    for d in _span(*lunar["mid_autumn"][:2]):
        ev[d] = ("mid_autumn", 1.25, True)
    for d in _span(date(year, 10, 1), date(year, 10, _NATIONAL_DAY_END[year])):
        ev[d] = ("national_day", 1.50, True)
    # Double 11 is the strongest single day of the year.
    for d in _span(date(year, 11, 1), date(year, 11, 9)):
        ev[d] = ("double_11_warmup", 1.12, False)
    ev[date(year, 11, 10)] = ("double_11", 1.45, False)
    ev[date(year, 11, 11)] = ("double_11", 1.90, False)
    ev[date(year, 12, 12)] = ("double_12", 1.40, False)
    ev[date(year, 12, 24)] = ("christmas_eve", 1.45, False)
    ev[date(year, 12, 25)] = ("christmas", 1.30, False)
    ev[date(year, 12, 31)] = ("new_years_eve", 1.25, False)
    return ev


_ALL_EVENTS: dict[date, tuple[str, float, bool]] = {}
for _y in YEARS:
    _ALL_EVENTS.update(_events(_y))


def day_info(d: date) -> DayInfo:
    """Label and traffic factor of one day (outside 2024-2027: weekday shape only)."""
    label, lift, holiday = _ALL_EVENTS.get(d, (None, 1.0, False))
    base = HOLIDAY_BASE if holiday else WEEKDAY_FACTOR[d.weekday()]
    return DayInfo(d, label, holiday, round(base * lift, 4))


def day_factors(start: date, days: int) -> np.ndarray:
    """Traffic factor for each day of the window (vector, one per day)."""
    return np.array([day_info(start + timedelta(days=i)).factor for i in range(days)])


def is_festival(d: date) -> bool:
    """Days on which stores run their own price promotions."""
    label = _ALL_EVENTS.get(d, (None,))[0]
    return label is not None and label not in ("spring_festival_eve", "qingming")


def hour_probabilities() -> tuple[np.ndarray, np.ndarray]:
    hours = np.array(sorted(HOUR_WEIGHTS))
    weights = np.array([HOUR_WEIGHTS[h] for h in hours])
    return hours, weights / weights.sum()
