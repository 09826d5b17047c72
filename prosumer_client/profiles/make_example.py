"""Write `building_15min.csv`: one day of a small building with rooftop PV, in the 15-minute
building format (time, load and PV in kWh per interval; net load for information).

    .venv/bin/python prosumer_client/profiles/make_example.py

Load: a night base, a morning peak around 07:30 and a larger evening peak around 19:30.
PV: a clear-sky bell between sunrise (06:00) and sunset (20:00), 5 kWp, peaking at 13:00.
A little seeded noise keeps it from looking drawn with a ruler; the output is reproducible.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

OUT = Path(__file__).with_name("building_15min.csv")
DAY = "2020/5/2"
PEAK_KW = 5.0  # PV system size (kWp)


def load_kw(hour: float) -> float:
    base = 0.6
    morning = 1.8 * math.exp(-(((hour - 7.5) / 1.0) ** 2))
    midday = 0.5 * math.exp(-(((hour - 12.5) / 1.5) ** 2))
    evening = 2.8 * math.exp(-(((hour - 19.5) / 1.6) ** 2))
    return base + morning + midday + evening


def pv_kw(hour: float) -> float:
    sunrise, sunset, noon = 6.0, 20.0, 13.0
    if not sunrise < hour < sunset:
        return 0.0
    half = (sunset - sunrise) / 2
    return PEAK_KW * max(0.0, math.cos((hour - noon) / half * math.pi / 2)) ** 1.5


def main() -> None:
    rng = random.Random(2020_05_02)
    lines = ["TIME,total_load(kWh),PV_generate(kWh),net_load(kWh)"]
    for k in range(96):
        hour = (k + 0.5) / 4  # the middle of the interval
        load = load_kw(hour) * 0.25 * rng.uniform(0.9, 1.1)
        pv = pv_kw(hour) * 0.25 * rng.uniform(0.93, 1.0)
        lines.append(f"{DAY} {k // 4:02d}:{k % 4 * 15:02d},{load:.3f},{pv:.3f},{load - pv:.3f}")
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT} ({len(lines) - 1} rows)")


if __name__ == "__main__":
    main()
