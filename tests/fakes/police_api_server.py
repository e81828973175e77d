"""A local stand-in for the data.police.uk API, for tests: a real HTTP server on 127.0.0.1.

``FakePoliceAPI`` runs ``http.server.ThreadingHTTPServer`` on port 0 in a daemon thread and
serves recorded responses (``responses/crimes-YYYY-MM.json.gz``: real City of London rows of
``data/police-uk`` converted to API records by ``csv_to_records``). It reproduces what
../shared/POLICE_UK.md asks of a stand-in:

- routes ``/api/crimes-street-dates``, ``/api/crimes-street/{cat}`` (GET and form POST),
  ``/api/crime-categories``, ``/api/forces``, ``/api/crimes-no-location``,
  ``/api/outcomes-for-crime/{id}``, ``/api/crime-last-updated``;
- bodies as in §1, anti-social behaviour with ``persistent_id: ""`` and crimes without a
  location (``location: null``, served by ``crimes-no-location``);
- more than ``cap`` crimes in the polygon → 503 with an empty body; a GET request line
  over 4,094 characters → 400 "Request Line is too large"; a JSON POST body → 400; more
  than ``rate_per_s`` requests/s (leaky bucket, ``burst``) → 429; a date before the window
  or malformed → 404; a future date → 200 ``[]``; a two-vertex poly → 502, a malformed one
  → 404; unknown force → 502; unknown persistent id → 404;
- ``delays``: route prefix → seconds to sleep before answering (bounded at 10 s), to make a
  client time out.

Run ``python -m tests.fakes.police_api_server`` to rebuild the recorded responses.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import shapely
from shapely.geometry import Polygon

from hotspot.core.resources import embedded_path

RESPONSES = Path(__file__).resolve().parent / "responses"
RECORDED_MONTHS = ("2020-10", "2020-11", "2020-12")
MAX_REQUEST_LINE = 4094
MAX_DELAY_S = 10.0

SLUGS = {
    "Anti-social behaviour": "anti-social-behaviour", "Bicycle theft": "bicycle-theft",
    "Burglary": "burglary", "Criminal damage and arson": "criminal-damage-arson",
    "Drugs": "drugs", "Other theft": "other-theft",
    "Possession of weapons": "possession-of-weapons", "Public order": "public-order",
    "Robbery": "robbery", "Shoplifting": "shoplifting",
    "Theft from the person": "theft-from-the-person", "Vehicle crime": "vehicle-crime",
    "Violence and sexual offences": "violent-crime", "Other crime": "other-crime",
}
CATEGORIES = [{"url": "all-crime", "name": "All crime"}] + [
    {"url": slug, "name": name} for name, slug in SLUGS.items()]
FORCE_IDS = (
    "avon-and-somerset", "bedfordshire", "cambridgeshire", "cheshire", "city-of-london",
    "cleveland", "cumbria", "derbyshire", "devon-and-cornwall", "dorset", "durham",
    "dyfed-powys", "essex", "gloucestershire", "greater-manchester", "gwent", "hampshire",
    "hertfordshire", "humberside", "kent", "lancashire", "leicestershire", "lincolnshire",
    "merseyside", "metropolitan", "norfolk", "north-wales", "north-yorkshire",
    "northamptonshire", "northumbria", "nottinghamshire", "south-wales", "south-yorkshire",
    "staffordshire", "suffolk", "surrey", "sussex", "thames-valley", "warwickshire",
    "west-mercia", "west-midlands", "west-yorkshire", "wiltshire", "northern-ireland",
)
FORCES = [{"id": f, "name": f.replace("-", " ").title() + " Police"} for f in FORCE_IDS]


# ------------------------------------------------------------------ recorded responses


def _int_id(*parts: object, digits: int = 8) -> int:
    return int(hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:12], 16) % (
        10**digits)


def csv_to_records(path: Path) -> list[dict]:
    """A police.uk street CSV → API crime records (the shape of ``crimes-street``)."""
    records = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for n, row in enumerate(csv.DictReader(handle)):
            month = row["Month"]
            placed = bool(row["Longitude"] and row["Latitude"])
            location = None
            if placed:
                location = {"latitude": row["Latitude"],
                            "street": {"id": _int_id(row["Location"], digits=6),
                                       "name": row["Location"]},
                            "longitude": row["Longitude"]}
            outcome = row["Last outcome category"]
            records.append({
                "category": SLUGS[row["Crime type"]],
                "location_type": "Force" if placed else None,
                "location": location,
                "context": row["Context"],
                "outcome_status": {"category": outcome, "date": month} if outcome else None,
                "persistent_id": row["Crime ID"],
                "id": 80_000_000 + _int_id(path.name, n),
                "location_subtype": "" if placed else None,
                "month": month,
            })
    return records


def build_responses(months=RECORDED_MONTHS, out: Path = RESPONSES) -> list[Path]:
    """Write ``crimes-YYYY-MM.json.gz`` for each month from the shipped City CSVs."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for month in months:
        source = embedded_path("police-uk", month) / f"{month}-city-of-london-street.csv"
        target = out / f"crimes-{month}.json.gz"
        payload = json.dumps(csv_to_records(source), separators=(",", ":")).encode()
        with open(target, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            gz.write(payload)
        written.append(target)
    return written


def load_month(month: str, responses: Path = RESPONSES) -> list[dict]:
    path = responses / f"crimes-{month}.json.gz"
    if not path.exists():
        return []
    with gzip.open(path, "rb") as handle:
        return json.loads(handle.read())


# ------------------------------------------------------------------ the server


class _Month:
    """A month's records with their coordinates as arrays, for fast polygon filters."""

    def __init__(self, records: list[dict]) -> None:
        self.records = records
        self.placed = [r for r in records if r["location"]]
        self.unplaced = [r for r in records if not r["location"]]
        self.lon = np.array([float(r["location"]["longitude"]) for r in self.placed])
        self.lat = np.array([float(r["location"]["latitude"]) for r in self.placed])


class FakePoliceAPI:
    """The stand-in server. Use as a context manager; ``base_url`` ends in ``/api``.

    Parameters
    ----------
    released
        Months the API "has" (``crimes-street-dates``); months without recorded records
        answer ``[]``.
    cap
        More crimes than this in one polygon → 503 (police.uk: 10,000).
    rate_per_s, burst
        Leaky bucket; beyond it → 429 (police.uk: 15 and 30).
    delays
        Route prefix (e.g. ``"crimes-street-dates"``) → seconds to sleep first.
    """

    def __init__(self, released: list[str], *, cap: int = 10_000, rate_per_s: float = 15.0,
                 burst: int = 30, delays: dict[str, float] | None = None,
                 responses: Path = RESPONSES) -> None:
        self.released = sorted(released)
        self.cap = cap
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.delays = dict(delays or {})
        self.responses = responses
        self.log: list[dict] = []
        self._months: dict[str, _Month] = {}
        self._bucket: deque[float] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def __enter__(self) -> FakePoliceAPI:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        handler = type("Handler", (_Handler,), {"api": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api"

    def release(self, month: str) -> None:
        """Make ``month`` the API's newest (as police.uk does once a month)."""
        with self._lock:
            self.released = sorted(set(self.released) | {month})

    def requests(self, route: str = "") -> list[dict]:
        with self._lock:
            return [r for r in self.log if r["route"].startswith(route)]

    # -- data
    def month(self, month: str) -> _Month:
        with self._lock:
            if month not in self._months:
                self._months[month] = _Month(load_month(month, self.responses))
            return self._months[month]

    def rate_limited(self) -> bool:
        """Leaky bucket: at most ``burst`` requests in the last ``burst / rate`` seconds."""
        now = time.monotonic()
        window = self.burst / self.rate_per_s
        with self._lock:
            while self._bucket and now - self._bucket[0] > window:
                self._bucket.popleft()
            if len(self._bucket) >= self.burst:
                return True
            self._bucket.append(now)
            return False


_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_POINT = re.compile(r"^-?\d+(\.\d+)?,-?\d+(\.\d+)?$")


class _Handler(BaseHTTPRequestHandler):
    api: FakePoliceAPI
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    # -- plumbing
    def _send(self, status: int, body: object = None, content_type: str = "application/json"
              ) -> None:
        if body is None:
            data = b""
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        if len(self.requestline) > MAX_REQUEST_LINE:
            self._record("GET", split.path, {}, too_long=True)
            self._send(400, b"<html><body><h1>Request Line is too large</h1></body></html>",
                       "text/html")
            return
        params = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        self._route("GET", split.path, params)

    def do_POST(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if "json" in (self.headers.get("Content-Type") or ""):
            self._record("POST", split.path, {})
            self._send(400)
            return
        params = {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}
        params.update({k: v[-1] for k, v in parse_qs(split.query).items()})
        self._route("POST", split.path, params)

    def _record(self, method: str, path: str, params: dict, **extra: object) -> str:
        route = path.removeprefix("/api/").strip("/")
        with self.api._lock:
            self.api.log.append({"method": method, "route": route, "params": params, **extra})
        return route

    # -- routes
    def _route(self, method: str, path: str, params: dict) -> None:
        route = self._record(method, path, params)
        for prefix, seconds in self.api.delays.items():
            if route.startswith(prefix):
                time.sleep(min(seconds, MAX_DELAY_S))
        if self.api.rate_limited():
            self._send(429)
            return
        if route == "crimes-street-dates":
            self._send(200, [{"date": m, "stop-and-search": ["city-of-london"]}
                             for m in reversed(self.api.released)])
        elif route == "crime-last-updated":
            self._send(200, {"date": f"{self.api.released[-1]}-01"})
        elif route == "crime-categories":
            self._send(200, CATEGORIES)
        elif route == "forces":
            self._send(200, FORCES)
        elif route.startswith("crimes-street/"):
            self._crimes_street(route.split("/", 1)[1], params)
        elif route == "crimes-no-location":
            self._no_location(params)
        elif route.startswith("outcomes-for-crime/"):
            self._outcomes(route.split("/", 1)[1])
        else:
            self._send(404)

    def _month_or_error(self, params: dict) -> str | None:
        """The requested month; sends 404 (before window, malformed) or ``[]`` (future)."""
        date = params.get("date") or self.api.released[-1]
        if not _MONTH.match(date) or date < self.api.released[0]:
            self._send(404)
            return None
        if date > self.api.released[-1]:
            self._send(200, [])
            return None
        return date

    def _crimes_street(self, slug: str, params: dict) -> None:
        if "poly" not in params:
            self._send(400)
            return
        vertices = params["poly"].split(":")
        if not all(_POINT.match(v) for v in vertices):
            self._send(404)
            return
        if len(vertices) < 3:
            self._send(502)
            return
        month = self._month_or_error(params)
        if month is None:
            return
        ring = [(float(v.split(",")[1]), float(v.split(",")[0])) for v in vertices]
        polygon = Polygon(ring)
        data = self.api.month(month)
        inside = shapely.intersects_xy(polygon, data.lon, data.lat) if len(data.lon) else []
        records = [r for r, hit in zip(data.placed, inside, strict=True) if hit]
        if slug in SLUGS.values():
            records = [r for r in records if r["category"] == slug]
        if len(records) > self.api.cap:
            self._send(503)
            return
        self._send(200, records)

    def _no_location(self, params: dict) -> None:
        force = params.get("force", "")
        if force not in FORCE_IDS:
            self._send(502)
            return
        month = self._month_or_error(params)
        if month is None:
            return
        records = self.api.month(month).unplaced if force == "city-of-london" else []
        slug = params.get("category", "all-crime")
        if slug in SLUGS.values():
            records = [r for r in records if r["category"] == slug]
        self._send(200, records)

    def _outcomes(self, persistent_id: str) -> None:
        for month in self.api.released:
            for record in self.api.month(month).records:
                if persistent_id and record["persistent_id"] == persistent_id:
                    outcome = record["outcome_status"]
                    outcomes = None if outcome is None else [{
                        "category": {"code": re.sub(r"\W+", "-", outcome["category"].lower()),
                                     "name": outcome["category"]},
                        "date": outcome["date"], "person_id": None}]
                    self._send(200, {"crime": record, "outcomes": outcomes})
                    return
        self._send(404)


if __name__ == "__main__":
    for path in build_responses():
        print(path, path.stat().st_size)
