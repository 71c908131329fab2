"""Synthetic NYC TLC green and yellow trip records, vectorised and written in bounded chunks.

The numbers follow the 2016 taxi rules closely enough for the model to have
something real to learn: trip distance follows the street route between the
coordinates; speed (hence duration) depends on hour, weekday and trip length;
the metered fare is $2.50 + $2.50/mile + $0.50/minute in slow traffic, rounded
to 50 cents; JFK-Manhattan is a $52 flat rate, Newark carries a $17.50
surcharge; extras are $0.50 at night and $1 in the weekday rush; tips come
mostly with card payments; tolls on many airport trips. A realistic share of
rows is dirty (zero coordinates, zero distance, negative or zero amounts,
dropoff before pickup, passenger count 0 or above 6, GPS distance glitches).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
from taxi_fare.features import AIRPORTS, haversine_miles
from taxi_fare.schema import GREEN_COLUMNS, YELLOW_COLUMNS

log = logging.getLogger(__name__)

START = np.datetime64("2016-01-01T00:00:00", "s")
DAYS = 182  # January to June 2016
START_WEEKDAY = 4  # 2016-01-01 was a Friday (Monday=0)
CHUNK_ROWS = 250_000
GREEN_SHARE = 0.35

#: Relative pickup volume per hour of day (TLC 2016 pattern).
HOUR_WEIGHTS = np.array(
    [
        2.9,
        2.2,
        1.6,
        1.2,
        0.9,
        0.9,
        2.0,
        3.6,
        4.4,
        4.5,
        4.3,
        4.5,
        4.8,
        4.8,
        5.1,
        5.1,
        5.0,
        5.7,
        6.4,
        6.5,
        6.1,
        5.8,
        5.5,
        4.3,
    ]
)
#: Typical street speed (mph) per hour of day on weekdays.
HOUR_SPEED = np.array(
    [
        20,
        21,
        22,
        22,
        22,
        19,
        15,
        11,
        9.5,
        10,
        11,
        11,
        11,
        11,
        11,
        10.5,
        10,
        9.5,
        9.5,
        11,
        13,
        14,
        15,
        17,
    ]
)

# Pickup/dropoff areas: name, latitude, longitude, sd lat, sd lon, yellow weight, green weight.
AREAS = (
    ("midtown", 40.755, -73.985, 0.012, 0.010, 0.42, 0.04),
    ("downtown", 40.716, -74.005, 0.010, 0.008, 0.20, 0.02),
    ("upper_manhattan", 40.800, -73.950, 0.015, 0.010, 0.18, 0.26),
    ("brooklyn", 40.680, -73.960, 0.025, 0.025, 0.07, 0.30),
    ("queens", 40.735, -73.870, 0.025, 0.030, 0.04, 0.22),
    ("bronx", 40.840, -73.890, 0.020, 0.020, 0.01, 0.14),
    ("jfk", *AIRPORTS["jfk"], 0.003, 0.004, 0.045, 0.01),
    ("lga", *AIRPORTS["lga"], 0.002, 0.003, 0.035, 0.01),
)
LAT_RANGE = (40.50, 40.92)
LON_RANGE = (-74.25, -73.70)


@dataclass(frozen=True)
class GeneratedFile:
    path: Path
    kind: str
    rows: int


def _areas(kind: str) -> tuple[np.ndarray, np.ndarray]:
    table = np.array([a[1:5] for a in AREAS], dtype="float64")
    weights = np.array([a[5] if kind == "yellow" else a[6] for a in AREAS])
    return table, weights / weights.sum()


def _in_manhattan(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    return (lat > 40.70) & (lat < 40.88) & (lon < -73.93) & (lon > -74.02)


def trips(
    n: int, kind: str, rng: np.random.Generator, distance_scale: float = 1.0
) -> dict[str, np.ndarray]:
    """One chunk of ``n`` trips of one kind, as columns keyed by the raw header names.

    ``distance_scale`` stretches every local hop (a shifted population for monitoring).
    """
    area_table, weights = _areas(kind)
    pick_area = rng.choice(len(AREAS), size=n, p=weights)
    p_lat = rng.normal(area_table[pick_area, 0], area_table[pick_area, 2])
    p_lon = rng.normal(area_table[pick_area, 1], area_table[pick_area, 3])
    from_airport = pick_area >= 6

    # Dropoff: mostly a local hop, some cross-town, some to an airport.
    hop_miles = rng.lognormal(np.log(1.3), 0.75, n) * distance_scale
    heading = rng.uniform(0, 2 * np.pi, n)
    d_lat = p_lat + hop_miles * np.cos(heading) / 69.0
    d_lon = p_lon + hop_miles * np.sin(heading) / 52.4
    far_area = rng.choice(6, size=n, p=np.array([0.4, 0.2, 0.15, 0.12, 0.08, 0.05]))
    cross = from_airport | (rng.random(n) < 0.12)
    d_lat = np.where(cross, rng.normal(area_table[far_area, 0], area_table[far_area, 2]), d_lat)
    d_lon = np.where(cross, rng.normal(area_table[far_area, 1], area_table[far_area, 3]), d_lon)
    to_airport = ~from_airport & (rng.random(n) < 0.035)
    airport_pick = rng.choice(3, size=n, p=[0.45, 0.4, 0.15])
    airport_xy = np.array(list(AIRPORTS.values()))
    d_lat = np.where(to_airport, airport_xy[airport_pick, 0] + rng.normal(0, 0.002, n), d_lat)
    d_lon = np.where(to_airport, airport_xy[airport_pick, 1] + rng.normal(0, 0.003, n), d_lon)
    to_newark = to_airport & (airport_pick == 2)
    p_lat, d_lat = (np.clip(a, *LAT_RANGE) for a in (p_lat, d_lat))
    p_lon, d_lon = (np.clip(a, *LON_RANGE) for a in (p_lon, d_lon))

    straight = haversine_miles(p_lat, p_lon, d_lat, d_lon)
    distance = np.maximum(straight * 1.27 * rng.lognormal(0.0, 0.10, n), 0.1)

    day = rng.integers(0, DAYS, n)
    hour = rng.choice(24, size=n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    second_of_hour = rng.integers(0, 3600, n)
    pickup = START + (day * 86400 + hour * 3600 + second_of_hour).astype("timedelta64[s]")
    weekday = (day + START_WEEKDAY) % 7
    weekend = weekday >= 5
    speed = HOUR_SPEED[hour] * np.where(weekend, 1.18, 1.0)
    speed = speed * (1.0 + 0.35 * np.log1p(distance / 4.0)) * rng.lognormal(0.0, 0.22, n)
    duration_s = (distance / speed * 3600.0 + rng.gamma(2.0, 45.0, n)).astype("int64")
    dropoff = pickup + duration_s.astype("timedelta64[s]")

    # Meter: distance rate plus time rate for the share of the trip spent below 12 mph.
    slow_share = np.clip(1.0 - speed / 18.0, 0.05, 0.85)
    fare = 2.5 + 2.5 * distance + 0.5 * (duration_s / 60.0) * slow_share
    fare = np.round(fare * 2) / 2
    jfk = np.stack(
        [
            haversine_miles(la, lo, *AIRPORTS["jfk"]) < 1.5
            for la, lo in ((p_lat, p_lon), (d_lat, d_lon))
        ]
    )
    jfk_manhattan = (jfk[0] & _in_manhattan(d_lat, d_lon)) | (jfk[1] & _in_manhattan(p_lat, p_lon))
    rate_code = np.where(jfk_manhattan, 2, np.where(to_newark, 3, 1))
    fare = np.where(jfk_manhattan, 52.0, fare)
    fare = np.where(to_newark, fare + 17.5, fare)
    night = (hour >= 20) | (hour < 6)
    rush = ~weekend & (hour >= 16) & (hour < 20)
    extra = np.where(rush, 1.0, np.where(night, 0.5, 0.0))
    extra = np.where(jfk_manhattan & rush, 4.5, extra)
    mta_tax = np.full(n, 0.5)
    improvement = np.full(n, 0.3)
    airport_trip = from_airport | to_airport
    tolls = np.where(airport_trip & (rng.random(n) < 0.35), 5.54, 0.0)
    tolls = np.where(to_newark, 15.0, tolls)
    tolls = np.where(~airport_trip & (distance > 6) & (rng.random(n) < 0.08), 5.54, tolls)

    card_share = 0.62 if kind == "yellow" else 0.48
    payment = np.where(rng.random(n) < card_share, 1, 2)
    payment = np.where(rng.random(n) < 0.01, rng.integers(3, 5, n), payment)
    tip_share = rng.choice(
        [0.0, 0.1, 0.15, 0.2, 0.25, 0.3], size=n, p=[0.08, 0.07, 0.2, 0.4, 0.15, 0.1]
    )
    tip_share = np.clip(tip_share + rng.normal(0.0, 0.01, n), 0.0, None)
    tip = np.where(
        payment == 1, np.round((fare + extra + mta_tax + improvement) * tip_share, 2), 0.0
    )
    passengers = rng.choice(np.arange(1, 7), size=n, p=[0.70, 0.14, 0.04, 0.02, 0.06, 0.04])

    # Dirt, at rates close to the 2016 files.
    u = rng.random(n)
    zero_pickup, zero_dropoff = u < 0.010, (u >= 0.010) & (u < 0.016)
    p_lat, p_lon = np.where(zero_pickup, 0.0, p_lat), np.where(zero_pickup, 0.0, p_lon)
    d_lat, d_lon = np.where(zero_dropoff, 0.0, d_lat), np.where(zero_dropoff, 0.0, d_lon)
    distance = np.where((u >= 0.016) & (u < 0.022), 0.0, distance)
    distance = np.where((u >= 0.022) & (u < 0.023), distance * rng.uniform(20, 80, n), distance)
    swap = (u >= 0.023) & (u < 0.025)
    pickup, dropoff = np.where(swap, dropoff, pickup), np.where(swap, pickup, dropoff)
    passengers = np.where((u >= 0.025) & (u < 0.030), 0, passengers)
    passengers = np.where((u >= 0.030) & (u < 0.0305), rng.integers(7, 10, n), passengers)
    sign = np.where((u >= 0.031) & (u < 0.034), -1.0, 1.0)
    zeroed = (u >= 0.034) & (u < 0.036)
    amounts = {}
    for name, values in (
        ("fareAmount", fare),
        ("extra", extra),
        ("mtaTax", mta_tax),
        ("improvementSurcharge", improvement),
        ("tipAmount", tip),
        ("tollsAmount", tolls),
    ):
        amounts[name] = np.where(zeroed, 0.0, sign * values)
    total = sum(amounts.values())

    zone = np.where(rng.random(n) < 0.3, rng.integers(1, 264, n), -1)
    dozone = np.where(zone > 0, rng.integers(1, 264, n), -1)
    columns: dict[str, np.ndarray] = {
        "vendorID": rng.choice([1, 2], size=n, p=[0.45, 0.55]),
        "pickup": pickup,
        "dropoff": dropoff,
        "passengerCount": passengers,
        "tripDistance": np.round(distance, 2),
        "puLocationId": zone,
        "doLocationId": dozone,
        "p_lon": np.round(p_lon, 6),
        "p_lat": np.round(p_lat, 6),
        "d_lon": np.round(d_lon, 6),
        "d_lat": np.round(d_lat, 6),
        "rateCode": rate_code,
        "storeAndFwdFlag": np.where(rng.random(n) < 0.01, "Y", "N"),
        "paymentType": payment,
        **{k: np.round(v, 2) for k, v in amounts.items()},
        "totalAmount": np.round(total, 2),
    }
    return _rename(columns, kind, n, rng)


def _rename(
    columns: dict[str, np.ndarray], kind: str, n: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    names = GREEN_COLUMNS if kind == "green" else YELLOW_COLUMNS
    generic = (
        "vendorID",
        "pickup",
        "dropoff",
        "passengerCount",
        "tripDistance",
        "puLocationId",
        "doLocationId",
        "p_lon",
        "p_lat",
        "d_lon",
        "d_lat",
        "rateCode",
    )
    out = {names[i]: columns[g] for i, g in enumerate(generic)}
    for name in names[len(generic) :]:
        if name in columns:
            out[name] = columns[name]
    if kind == "green":
        out["ehailFee"] = np.full(n, np.nan)
        out["tripType"] = np.where(rng.random(n) < 0.98, 1, 2)
    return {name: out[name] for name in names}


def _float_text(values: np.ndarray) -> pa.Array:
    """Floats as text the way TLC files write them: whole numbers keep a ``.0``."""
    text = pc.cast(pa.array(values, from_pandas=True), pa.string())
    return pc.replace_substring_regex(text, pattern=r"^(-?\d+)$", replacement=r"\1.0")


def to_table(columns: dict[str, np.ndarray]) -> pa.Table:
    arrays = {}
    for name, values in columns.items():
        if values.dtype.kind == "M":
            arrays[name] = pa.array(values)
        elif name in ("puLocationId", "doLocationId"):
            arrays[name] = pa.array(values, mask=values < 0)
        elif values.dtype.kind == "f":
            arrays[name] = _float_text(values)
        else:
            arrays[name] = pa.array(values)
    return pa.table(arrays)


def write_kind(
    path: Path, kind: str, rows: int, seed: int, file_index: int, distance_scale: float = 1.0
) -> None:
    """Write one CSV in chunks of at most ``CHUNK_ROWS`` rows (bounded memory)."""
    names = GREEN_COLUMNS if kind == "green" else YELLOW_COLUMNS
    options = pcsv.WriteOptions(include_header=False, quoting_style="none")
    kind_index = 0 if kind == "green" else 1
    with open(path, "wb") as sink:
        sink.write((",".join(names) + "\n").encode())
        for chunk, start in enumerate(range(0, rows, CHUNK_ROWS)):
            n = min(CHUNK_ROWS, rows - start)
            rng = np.random.default_rng([seed, kind_index, file_index, chunk])
            pcsv.write_csv(to_table(trips(n, kind, rng, distance_scale)), sink, options)


def generate(
    rows: int, out: Path, seed: int, files_per_kind: int = 2, distance_scale: float = 1.0
) -> list[GeneratedFile]:
    """Write ``rows`` trips as ``green_NNN.csv`` and ``yellow_NNN.csv`` files under ``out``."""
    if rows < 2:
        raise ValueError(f"--rows must be at least 2, got {rows}")
    if files_per_kind < 1:
        raise ValueError(f"--files-per-kind must be at least 1, got {files_per_kind}")
    if not 0.1 <= distance_scale <= 10:
        raise ValueError(f"--distance-scale must be between 0.1 and 10, got {distance_scale}")
    out.mkdir(parents=True, exist_ok=True)
    green = max(1, round(rows * GREEN_SHARE))
    written: list[GeneratedFile] = []
    for kind, kind_rows in (("green", green), ("yellow", rows - green)):
        files = min(files_per_kind, kind_rows)
        sizes = [kind_rows // files + (1 if i < kind_rows % files else 0) for i in range(files)]
        for index, size in enumerate(sizes, start=1):
            path = out / f"{kind}_{index:03d}.csv"
            write_kind(path, kind, size, seed, index, distance_scale)
            written.append(GeneratedFile(path, kind, size))
            log.info("wrote %s (%s rows)", path, f"{size:,}")
    return written
