"""data.police.uk API client: street-level crimes of a study area, month by month.

The API (https://data.police.uk/docs/) needs no key and answers JSON. What this client
does about its limits (../shared/POLICE_UK.md §2):

- **10,000 cap**: ``crimes-street`` answers 503 (empty body) when an area holds too many
  crimes. The client then *tiles*: the polygon's bounding box is split into quadrants,
  each clipped to the polygon, recursively (``max_tile_depth``); records are de-duplicated
  by ``persistent_id`` and the API's ``id`` (only ``id`` for anti-social behaviour, whose
  persistent id is blank), since a point on a tile edge is returned by both tiles.
- **Long requests**: a GET over 4,094 characters is refused with 400, so a long ``poly``
  is sent as a form POST (and a GET answered 400 is retried once as a POST).
- **Rate limit** (15 requests/s, burst 30 → 429) and other 5xx: bounded retries with
  exponential backoff; the client also spaces its own requests (``max_rate_per_s``).
- **Offline / silent**: every request has a timeout; a connection failure or repeated
  timeouts end in ``DataError("police.uk API unreachable at URL: ...")``.

Records become rows of the street-level CSV (:mod:`~hotspot.ingest.police_api_records`)
written as ``STORE/raw/api/YYYY-MM/YYYY-MM-<force>-street.csv``, so they are ingested by
the very same validation and quarantine code as downloaded files (``ingest.police_uk``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from hotspot.core.atomic import write_text_atomic
from hotspot.core.errors import DataError
from hotspot.ingest.police_api_geometry import (
    encode_poly,
    polygon_parts,
    polygon_rings,
    quadrants,
    query_polygon,
)
from hotspot.ingest.police_api_records import (
    api_csv_path,
    record_key,
    records_to_street_rows,
    street_csv_text,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://data.police.uk/api"
#: police.uk refuses request lines longer than this (400 "Request Line is too large").
MAX_GET_CHARS = 4094


class TooManyResults(Exception):
    """The API answered 503: the area holds more crimes than it will return at once."""


@dataclass
class FetchStats:
    """What fetching one month cost: requests made, tiles queried, 503s met."""

    n_requests: int = 0
    n_tiles: int = 0
    n_too_many: int = 0
    n_retries: int = 0
    methods: dict[str, int] = field(default_factory=dict)


class PoliceAPIClient:
    """A small, bounded client for the data.police.uk API.

    Parameters
    ----------
    base_url
        Root of the API, e.g. ``https://data.police.uk/api`` (tests use a local stand-in).
    timeout_s
        Per-request timeout (connect, read, write) in seconds.
    max_retries
        Retries after a timeout, a 429 or a 5xx other than the crimes route's 503.
    backoff_s
        First backoff; doubles each retry (``backoff_s * 2**attempt``), capped at 60 s.
    max_rate_per_s
        The client spaces its own requests to at most this many per second.
    max_requests
        Hard bound on requests by one client, so no loop can run away.
    max_tile_depth
        How many times a polygon may be split into quadrants on 503.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_s: float = 1.0,
        max_rate_per_s: float = 10.0,
        max_requests: int = 2000,
        max_tile_depth: int = 6,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = float(timeout_s)
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self.min_interval_s = 1.0 / max_rate_per_s if max_rate_per_s > 0 else 0.0
        self.max_requests = int(max_requests)
        self.max_tile_depth = int(max_tile_depth)
        self._sleep = sleep
        self._last_request = 0.0
        self.n_requests = 0
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.timeout_s),
            transport=transport,
            headers={"User-Agent": "hotspot-nightly (+https://data.police.uk/docs/)"},
            follow_redirects=True,
        )

    # ---------------------------------------------------------------- plumbing
    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PoliceAPIClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, route: str) -> str:
        return f"{self.base_url}/{route.lstrip('/')}"

    def _throttle(self) -> None:
        wait = self._last_request + self.min_interval_s - time.monotonic()
        if wait > 0:
            self._sleep(wait)
        self._last_request = time.monotonic()

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_s * 2**attempt, 60.0)

    def request(
        self,
        route: str,
        *,
        params: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        too_many_is_503: bool = False,
        final_statuses: tuple[int, ...] = (),
        stats: FetchStats | None = None,
    ) -> httpx.Response:
        """One API call with bounded retries; returns the final response (any 2xx/4xx).

        A 503 raises ``TooManyResults`` when ``too_many_is_503`` (the crimes routes);
        otherwise 429 and 5xx (except ``final_statuses``, which mean a bad request on some
        routes) are retried with exponential backoff. Connection failures
        and timeouts end in ``DataError`` once retries are spent.
        """
        url = self.url(route)
        method = "POST" if form is not None else "GET"
        shown = url if not params else f"{url}?{urlencode(params)}"[:200]
        last_problem = ""
        for attempt in range(self.max_retries + 1):
            if self.n_requests >= self.max_requests:
                raise DataError(
                    f"police.uk API: this client reached its bound of {self.max_requests} "
                    f"requests (last: {shown}); raise max_requests or query a smaller area"
                )
            if attempt:
                if stats is not None:
                    stats.n_retries += 1
                self._sleep(self._backoff(attempt - 1))
            self._throttle()
            self.n_requests += 1
            if stats is not None:
                stats.n_requests += 1
                stats.methods[method] = stats.methods.get(method, 0) + 1
            try:
                response = self._client.request(method, url, params=params, data=form)
            except httpx.TimeoutException as exc:
                last_problem = f"timed out after {self.timeout_s:g} s ({type(exc).__name__})"
                log.warning("police.uk API %s %s: %s (try %d of %d)", method, shown,
                            last_problem, attempt + 1, self.max_retries + 1)
                continue
            except httpx.TransportError as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
                log.warning("police.uk API %s %s: %s (try %d of %d)", method, shown,
                            last_problem, attempt + 1, self.max_retries + 1)
                continue
            status = response.status_code
            if status == 503 and too_many_is_503:
                raise TooManyResults(shown)
            if (status == 429 or status >= 500) and status not in final_statuses:
                last_problem = f"HTTP {status}"
                log.warning("police.uk API %s %s: HTTP %d (try %d of %d)", method, shown,
                            status, attempt + 1, self.max_retries + 1)
                continue
            return response
        if last_problem.startswith("HTTP"):
            raise DataError(
                f"police.uk API at {shown} kept failing ({last_problem}) after "
                f"{self.max_retries + 1} tries: try again later"
            )
        raise DataError(
            f"police.uk API unreachable at {shown}: {last_problem} after "
            f"{self.max_retries + 1} tries; check the network or the configured base_url "
            f"({self.base_url})"
        )

    def get_json(self, route: str, params: dict[str, str] | None = None) -> Any:
        response = self.request(route, params=params)
        if response.status_code != 200:
            raise DataError(
                f"police.uk API {self.url(route)} answered HTTP {response.status_code}"
            )
        return _json(response, self.url(route))

    # ---------------------------------------------------------------- routes
    def available_months(self) -> list[str]:
        """Months with street-level crime (``crimes-street-dates``), oldest first."""
        rows = self.get_json("crimes-street-dates")
        try:
            months = sorted({str(row["date"])[:7] for row in rows})
        except (TypeError, KeyError):
            raise DataError("police.uk API crimes-street-dates: unexpected answer") from None
        return months

    def last_updated(self) -> str:
        """``crime-last-updated``: the first day of the newest month, ``YYYY-MM-DD``."""
        return str(self.get_json("crime-last-updated")["date"])

    def categories(self, month: str | None = None) -> list[dict]:
        return self.get_json("crime-categories", {"date": month} if month else None)

    def forces(self) -> list[dict]:
        return self.get_json("forces")

    def crimes_no_location(self, force: str, month: str, category: str = "all-crime") -> list:
        """Crimes of ``force`` in ``month`` that police.uk could not place (location null)."""
        response = self.request(
            "crimes-no-location", params={"category": category, "force": force, "date": month},
            final_statuses=(502,),  # police.uk: unknown force
        )
        if response.status_code == 404:
            return []
        if response.status_code != 200:
            raise DataError(
                f"police.uk API crimes-no-location (force {force!r}, {month}) answered HTTP "
                f"{response.status_code}: check the force id (see the 'forces' route)"
            )
        return _json(response, self.url("crimes-no-location"))

    def crimes_in_polygon(
        self,
        ring: Sequence[tuple[float, float]],
        month: str,
        category: str = "all-crime",
        stats: FetchStats | None = None,
    ) -> list[dict]:
        """Street-level crimes inside one ring of ``(lon, lat)`` vertices in ``month``.

        Raises ``TooManyResults`` on 503 and ``DataError`` when the month is outside the
        API's window (404).
        """
        poly = encode_poly(ring)
        route = f"crimes-street/{category}"
        params = {"poly": poly, "date": month}
        if len(f"{self.url(route)}?{urlencode(params)}") > MAX_GET_CHARS - 100:
            response = self.request(route, form=params, too_many_is_503=True, stats=stats)
        else:
            response = self.request(route, params=params, too_many_is_503=True, stats=stats)
            if response.status_code == 400:  # request line too large after all: POST it
                response = self.request(route, form=params, too_many_is_503=True, stats=stats)
        if response.status_code == 404:
            raise DataError(
                f"police.uk API has no street-level crimes for {month} (HTTP 404: before its "
                "36-month window, or a malformed date or polygon)"
            )
        if response.status_code != 200:
            raise DataError(
                f"police.uk API {self.url(route)} for {month} answered HTTP "
                f"{response.status_code}"
            )
        records = _json(response, self.url(route))
        if not isinstance(records, list):
            raise DataError(f"police.uk API {self.url(route)}: expected a list of crimes")
        return records

    def crimes_in_area(
        self, area_wgs84: BaseGeometry, month: str, stats: FetchStats | None = None
    ) -> list[dict]:
        """Every street-level crime in ``area_wgs84`` (lon/lat) in ``month``, tiling the
        area into clipped quadrants wherever the API answers 503; de-duplicated."""
        stats = stats if stats is not None else FetchStats()
        found: dict[str, dict] = {}
        for ring in polygon_rings(area_wgs84):
            self._tile(Polygon(ring), month, 0, found, stats)
        return list(found.values())

    def _tile(
        self, piece: Polygon, month: str, depth: int, found: dict[str, dict], stats: FetchStats
    ) -> None:
        stats.n_tiles += 1
        try:
            records = self.crimes_in_polygon(list(piece.exterior.coords), month, stats=stats)
        except TooManyResults:
            stats.n_too_many += 1
            if depth >= self.max_tile_depth:
                raise DataError(
                    f"police.uk API still answers 503 (too many crimes) for {month} after "
                    f"splitting the area {self.max_tile_depth} times: use a smaller study area"
                ) from None
            for quadrant in quadrants(piece):
                for part in polygon_parts(piece.intersection(quadrant)):
                    self._tile(part, month, depth + 1, found, stats)
            return
        for record in records:
            found.setdefault(record_key(record), record)


def _json(response: httpx.Response, url: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise DataError(f"police.uk API {url} answered something that is not JSON") from None


@dataclass(frozen=True)
class MonthDownload:
    """One month fetched from the API and kept as a street CSV."""

    month: str
    path: Path
    sha256: str
    n_records: int
    n_no_location: int
    n_requests: int
    n_tiles: int
    n_too_many: int

    def to_dict(self) -> dict:
        return {"month": self.month, "path": str(self.path), "sha256": self.sha256,
                "n_records": self.n_records, "n_no_location": self.n_no_location,
                "n_requests": self.n_requests, "n_tiles": self.n_tiles,
                "n_too_many": self.n_too_many}


def download_month(
    client: PoliceAPIClient,
    area_wgs84: BaseGeometry,
    month: str,
    store: Path | str,
    *,
    force: str | None = None,
    force_name: str = "",
    include_no_location: bool = False,
) -> MonthDownload:
    """Fetch ``month`` for the area (tiling on 503) and write it as a street CSV under the
    store's ``raw/api`` folder; return where it went and what it cost.

    ``force`` names the file (``YYYY-MM-<force>-street.csv``) and so the store partition
    the rows land in: use the force's id (e.g. ``city-of-london``) so a bulk file of the
    same month later replaces the API's rows; default ``api``. With
    ``include_no_location`` (needs ``force``) the force's unplaced crimes are fetched too
    and quarantined as ``no_coordinates``, as they are in the bulk files.
    """
    stats = FetchStats()
    records = client.crimes_in_area(query_polygon(area_wgs84), month, stats)
    n_no_location = 0
    if include_no_location:
        if not force:
            raise DataError("include_no_location needs the force id (e.g. city-of-london)")
        unplaced = client.crimes_no_location(force, month)
        n_no_location = len(unplaced)
        keys = {record_key(r) for r in records}
        records += [r for r in unplaced if record_key(r) not in keys]
    rows = records_to_street_rows(records, month, force_name)
    text = street_csv_text(rows)
    path = write_text_atomic(api_csv_path(store, month, force or "api"), text)
    return MonthDownload(
        month=month, path=path, sha256=hashlib.sha256(text.encode()).hexdigest(),
        n_records=len(records), n_no_location=n_no_location, n_requests=stats.n_requests,
        n_tiles=stats.n_tiles, n_too_many=stats.n_too_many,
    )
