"""The canonical events and quarantine tables: column names, types and reasons."""

from __future__ import annotations

import pyarrow as pa

#: One row per crime. ``time`` is the month start for police.uk (month precision) and the
#: event's timestamp for timestamped sources; ``x``/``y`` are metres in the store's CRS.
EVENTS_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string()),
        pa.field("time", pa.timestamp("us")),
        pa.field("lon", pa.float64()),
        pa.field("lat", pa.float64()),
        pa.field("x", pa.float64()),
        pa.field("y", pa.float64()),
        pa.field("category", pa.string()),
        pa.field("area_code", pa.string()),
        pa.field("source", pa.string()),
    ]
)
EVENT_COLUMNS = EVENTS_SCHEMA.names

#: Quarantined rows keep the raw row (as JSON text) so nothing is lost.
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("file", pa.string()),
        pa.field("row", pa.int64()),
        pa.field("month", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("raw", pa.string()),
        pa.field("source", pa.string()),
    ]
)

# Reasons a row is quarantined instead of becoming an event.
NO_COORDINATES = "no_coordinates"
BAD_COORDINATES = "bad_coordinates"
#: Valid WGS84 coordinates outside the country the source covers (police.uk: the UK), e.g.
#: longitude and latitude swapped, or a placeholder point abroad.
OUTSIDE_COUNTRY = "outside_country"
BAD_MONTH = "bad_month"
BAD_TIME = "bad_time"
FUTURE_TIME = "future_time"
OUTSIDE_STUDY_AREA = "outside_study_area"
DUPLICATE_CRIME_ID = "duplicate_crime_id"

REASONS = (
    NO_COORDINATES,
    BAD_COORDINATES,
    OUTSIDE_COUNTRY,
    BAD_MONTH,
    BAD_TIME,
    FUTURE_TIME,
    OUTSIDE_STUDY_AREA,
    DUPLICATE_CRIME_ID,
)

#: Partition label for quarantined rows whose month could not be read.
INVALID_MONTH = "invalid"
