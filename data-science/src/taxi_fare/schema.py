"""The data contracts: raw TLC layouts, the 20-column model input and the target."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Model input, by name, in the order files carry it. All numeric.
FEATURES: tuple[str, ...] = (
    "distance",
    "dropoff_latitude",
    "dropoff_longitude",
    "passengers",
    "pickup_latitude",
    "pickup_longitude",
    "store_forward",
    "vendor",
    "pickup_weekday",
    "pickup_month",
    "pickup_monthday",
    "pickup_hour",
    "pickup_minute",
    "pickup_second",
    "dropoff_weekday",
    "dropoff_month",
    "dropoff_monthday",
    "dropoff_hour",
    "dropoff_minute",
    "dropoff_second",
)

#: Total cost of the trip in USD (the raw ``totalAmount``).
TARGET = "cost"

GREEN_COLUMNS: tuple[str, ...] = (
    "vendorID",
    "lpepPickupDatetime",
    "lpepDropoffDatetime",
    "passengerCount",
    "tripDistance",
    "puLocationId",
    "doLocationId",
    "pickupLongitude",
    "pickupLatitude",
    "dropoffLongitude",
    "dropoffLatitude",
    "rateCodeID",
    "storeAndFwdFlag",
    "paymentType",
    "fareAmount",
    "extra",
    "mtaTax",
    "improvementSurcharge",
    "tipAmount",
    "tollsAmount",
    "ehailFee",
    "totalAmount",
    "tripType",
)

YELLOW_COLUMNS: tuple[str, ...] = (
    "vendorID",
    "tpepPickupDateTime",
    "tpepDropoffDateTime",
    "passengerCount",
    "tripDistance",
    "puLocationId",
    "doLocationId",
    "startLon",
    "startLat",
    "endLon",
    "endLat",
    "rateCodeId",
    "storeAndFwdFlag",
    "paymentType",
    "fareAmount",
    "extra",
    "mtaTax",
    "improvementSurcharge",
    "tipAmount",
    "tollsAmount",
    "totalAmount",
)


@dataclass(frozen=True)
class RawLayout:
    """How one raw kind names the columns the features are built from."""

    kind: str
    columns: tuple[str, ...]
    #: raw column -> canonical trip field; only these columns are required.
    mapping: dict[str, str]

    @property
    def datetime_columns(self) -> tuple[str, ...]:
        return tuple(c for c, f in self.mapping.items() if f.endswith("_datetime"))


def _mapping(pickup: str, dropoff: str, coords: Sequence[str]) -> dict[str, str]:
    return {
        "vendorID": "vendor",
        pickup: "pickup_datetime",
        dropoff: "dropoff_datetime",
        "passengerCount": "passengers",
        "tripDistance": "distance",
        coords[0]: "pickup_longitude",
        coords[1]: "pickup_latitude",
        coords[2]: "dropoff_longitude",
        coords[3]: "dropoff_latitude",
        "storeAndFwdFlag": "store_forward",
        "totalAmount": TARGET,
    }


GREEN = RawLayout(
    "green",
    GREEN_COLUMNS,
    _mapping(
        "lpepPickupDatetime",
        "lpepDropoffDatetime",
        ("pickupLongitude", "pickupLatitude", "dropoffLongitude", "dropoffLatitude"),
    ),
)
YELLOW = RawLayout(
    "yellow",
    YELLOW_COLUMNS,
    _mapping(
        "tpepPickupDateTime", "tpepDropoffDateTime", ("startLon", "startLat", "endLon", "endLat")
    ),
)
RAW_LAYOUTS: dict[str, RawLayout] = {"green": GREEN, "yellow": YELLOW}

#: Kind name of the already-engineered table (unnamed index, cost, the 20 features).
FEATURE_TABLE = "features"
FEATURE_TABLE_COLUMNS: tuple[str, ...] = (TARGET, *FEATURES)
