"""Admin lists, filters and details on a big fleet: time per page of 100 and SQL statements per
request, for a superuser and for two domain admins (issue 6 item 4, issue 5 item 5).

    .venv/bin/python bench/admin_lists.py                          # in-process, the 100k fleet
    .venv/bin/python bench/admin_lists.py --compare migasfree_bench_fleet_10k
    .venv/bin/python bench/admin_lists.py --url http://127.0.0.1:8080   # a running server

In-process, each request goes through the whole WSGI application (routing, authentication by API
token, scoping, serialization, JSON) and the statements are counted on the engine; against
``--url`` only times are measured. The fleet comes from ``bench/fleet.py``.

Targets: p95 under 50 ms per page; the same statement counts on fleets of different sizes; a
domain admin's page of computers within 2x the superuser's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy import event
from webob import Request

from migasfree_pyramid import make_config
from migasfree_pyramid.db import ENGINE_KEY, make_engine
from migasfree_pyramid.settings import DEFAULT_POSTGRESQL_SETTINGS

try:  # run as a script (bench/ on the path) or as a module of the bench package
    from fleet import DEFAULT_DATABASE, SERVER, USERS, api_key, app_settings, database_url, psql_url
except ImportError:
    from bench.fleet import (
        DEFAULT_DATABASE,
        SERVER,
        USERS,
        api_key,
        app_settings,
        database_url,
        psql_url,
    )

PREFIX = "/api/v1/token/"
TARGET_P95_MS = 50.0
DOMAIN_RATIO = 2.0
# (name, path below /api/v1/token/); {placeholders} come from ``probe``.
CASES = (
    ("computers", "computers/?page_size=100"),
    ("computers status__in", "computers/?page_size=100&status__in=assigned,reserved"),
    ("computers project__id", "computers/?page_size=100&project__id={project}"),
    ("computers sync_attributes", "computers/?page_size=100&sync_attributes={net}"),
    ("computers search name", "computers/?page_size=100&search=pc-0042"),
    ("computers search digits", "computers/?page_size=100&search=4242"),
    ("computers ordering=-sync_end_date", "computers/?page_size=100&ordering=-sync_end_date"),
    ("computers page 50", "computers/?page_size=100&page=50"),
    ("computer detail", "computers/{computer}/"),
    ("attributes", "attributes/?page_size=100"),
    ("tags", "tags/?page_size=100"),
    ("features", "features/?page_size=100"),
    ("features NET total_computers", "features/?page_size=100&property_att__prefix=NET"),
    ("deployments", "deployments/?page_size=100"),
    ("errors", "errors/?page_size=100"),
    ("errors checked=false", "errors/?page_size=100&checked=false"),
    ("faults", "faults/?page_size=100"),
    ("syncs", "syncs/?page_size=100"),
    ("packages-history", "packages-history/?page_size=100"),
    ("packages-history computer", "packages-history/?page_size=100&computer__id={computer}"),
    ("status-logs", "status-logs/?page_size=100"),
    ("domains", "domains/?page_size=100"),
    ("projects", "projects/?page_size=100"),
)


# A domain admin's view has fewer pages than that.
SUPERUSER_ONLY = {"computers page 50"}


@dataclass
class Result:
    case: str
    role: str
    status: int = 0
    count: int | None = None
    times: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)
    load: float = 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000

    def as_dict(self) -> dict:
        return {
            "case": self.case,
            "role": self.role,
            "status": self.status,
            "count": self.count,
            "n": len(self.times),
            "p50_ms": round(self.pct(0.5), 2),
            "p95_ms": round(self.pct(0.95), 2),
            "mean_ms": round(statistics.fmean(self.times) * 1000, 2),
            "statements": sorted(set(self.statements)),
            "load1": self.load,
        }


class InProcess:
    """The real WSGI app in this process; statements counted on its engine."""

    def __init__(self, database: str, server: str, pg_options: tuple[str, ...] = ()):
        self.database = database
        url = database_url(database, server)
        # The app's own connection settings (as in production), then ``--pg-option``'s (the
        # later of two equal names wins).
        self.engine = make_engine(url, DEFAULT_POSTGRESQL_SETTINGS + pg_options)
        self.app = make_config({**app_settings(url), ENGINE_KEY: self.engine}).make_wsgi_app()
        self.statements = 0
        self.log: list[list] = []  # [statement, parameters, seconds] of the last request
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        # An API token records its use at most once an hour: bookkeeping of the login, not a
        # statement of the list, and it would make counts differ between runs.
        if statement.startswith("UPDATE core_apitoken"):
            return
        self.statements += 1
        self.log.append([statement, parameters, time.perf_counter()])

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.log and self.log[-1][0] == statement:
            self.log[-1][2] = time.perf_counter() - self.log[-1][2]

    def explain(self, path: str, role: str) -> str:
        """EXPLAIN (ANALYZE, BUFFERS) of the slowest statement of one request."""
        self.get(path, role)
        statement, parameters, seconds = max(self.log, key=lambda item: item[2])
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            plan = "\n".join(row[0] for row in rows)
        return f"-- {seconds * 1000:.1f} ms\n{statement}\n{parameters}\n{plan}"

    def get(self, path: str, role: str) -> tuple[int, bytes, float, int | None]:
        request = Request.blank(
            PREFIX + path,
            headers={"Authorization": f"Token {api_key(self.database, USERS[role])}"},
            environ={"HTTP_HOST": "bench.example.org", "REMOTE_ADDR": "127.0.0.1"},
        )
        self.statements, self.log = 0, []
        began = time.perf_counter()
        response = request.get_response(self.app)
        body = response.body
        return response.status_code, body, time.perf_counter() - began, self.statements


class Remote:
    """A running server (``--url``): times only."""

    def __init__(self, database: str, base: str):
        self.database, self.base = database, base.rstrip("/")

    def get(self, path: str, role: str) -> tuple[int, bytes, float, int | None]:
        request = urllib.request.Request(  # noqa: S310 (the URL is the operator's --url)
            self.base + PREFIX + path,
            headers={"Authorization": f"Token {api_key(self.database, USERS[role])}"},
        )
        began = time.perf_counter()
        try:
            with urllib.request.urlopen(request) as response:  # noqa: S310
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        return status, body, time.perf_counter() - began, None


def probe(database: str, server: str) -> dict:
    """Values the filter cases use: a project, a network of the 10% domain."""
    with psycopg.connect(psql_url(database_url(database, server))) as conn:
        project = conn.execute("SELECT id FROM core_project WHERE name = 'debian-12'").fetchone()
        net = conn.execute(
            "SELECT a.value FROM core_domain_included_attributes d"
            " JOIN core_attribute a ON a.id = d.attribute_id"
            " JOIN core_property p ON p.id = a.property_att_id"
            " WHERE p.prefix = 'NET' ORDER BY a.id LIMIT 1"
        ).fetchone()
    return {"project": project[0], "net": net[0]}


def first_computer(target, role: str) -> int:
    status, body, _, _ = target.get("computers/?page_size=1", role)
    if status != 200:
        raise SystemExit(f"{role}: computers/ answered {status}: {body[:300]!r}")
    return json.loads(body)["results"][0]["id"]


def measure(target, case: str, path: str, role: str, args) -> Result:
    result = Result(case, role)
    for _ in range(args.warmup):
        target.get(path, role)
    deadline = time.perf_counter() + args.budget
    while len(result.times) < args.repeat:
        status, body, seconds, statements = target.get(path, role)
        result.status = status
        result.times.append(seconds)
        if statements is not None:
            result.statements.append(statements)
        if len(result.times) >= 5 and time.perf_counter() > deadline:
            break
    if result.status == 200:
        data = json.loads(body)
        result.count = data.get("count") if isinstance(data, dict) else len(data)
    result.load = os.getloadavg()[0]
    return result


def run_all(target, database: str, server: str, args, roles) -> list[Result]:
    values = probe(database, server) if server else {}
    results = []
    for role in roles:
        context = {**values, "computer": first_computer(target, role)}
        for case, path in CASES:
            if args.only and args.only not in case:
                continue
            if (case in SUPERUSER_ONLY and role != "superuser") or case in args.skip.split(","):
                continue
            result = measure(target, case, path.format(**context), role, args)
            results.append(result)
            if args.explain and isinstance(target, InProcess):
                print(f"== {case} ({role})\n{target.explain(path.format(**context), role)}\n")
            if args.verbose:
                show([result], header=False)
    return results


def show(results: list[Result], header: bool = True) -> None:
    if header:
        print(
            f"{'case':<34} {'role':<9} {'status':>6} {'count':>10} {'p50 ms':>8} {'p95 ms':>8}"
            f" {'stmts':>6} {'load':>5}"
        )
    for r in results:
        statements = "-" if not r.statements else "/".join(map(str, sorted(set(r.statements))))
        flag = " !" if r.pct(0.95) > TARGET_P95_MS or r.status != 200 else ""
        print(
            f"{r.case:<34} {r.role:<9} {r.status:>6} {r.count if r.count is not None else '-':>10}"
            f" {r.pct(0.5):8.1f} {r.pct(0.95):8.1f} {statements:>6} {r.load:5.2f}{flag}",
            flush=True,
        )


def summary(results: list[Result]) -> bool:
    """Print the verdict on the targets; True when all hold."""
    ok = True
    slow = [r for r in results if r.pct(0.95) > TARGET_P95_MS or r.status != 200]
    for r in slow:
        print(f"MISSED: {r.case} ({r.role}): status {r.status}, p95 {r.pct(0.95):.1f} ms")
    ok &= not slow
    by_key = {(r.case, r.role): r for r in results}
    for role in ("lab", "north"):
        for case in ("computers", "computers status__in"):
            mine, theirs = by_key.get((case, role)), by_key.get((case, "superuser"))
            if mine is None or theirs is None:
                continue
            ratio = mine.pct(0.5) / theirs.pct(0.5)
            verdict = "ok" if ratio <= DOMAIN_RATIO else "MISSED"
            ok &= ratio <= DOMAIN_RATIO
            print(
                f"{case} {role} / superuser: p50 {mine.pct(0.5):.1f} / {theirs.pct(0.5):.1f} ms"
                f" = {ratio:.2f}x (target <= {DOMAIN_RATIO}x) {verdict}"
            )
    return ok


def fleet_size(results: list[Result]) -> int:
    """Computers on the fleet (0 when the run skipped the case: the first fleet is then taken
    for the bigger, as the README runs them)."""
    found = (r.count or 0 for r in results if (r.case, r.role) == ("computers", "superuser"))
    return next(found, 0)


def compare(results: list[Result], other: list[Result], names: tuple[str, str]) -> bool:
    """Statement counts per case and role on two fleets: the bigger one must not need more.

    They are equal but for one case: an event log over ``migasfree.exact_count_limit`` rows
    answers an estimated count, which saves the COUNT statement on the bigger fleet."""
    theirs = {(r.case, r.role): r for r in other}
    bigger_first = fleet_size(results) >= fleet_size(other)
    differing = 0
    print(f"\nstatements per request: {names[0]} vs {names[1]}")
    for r in results:
        o = theirs.get((r.case, r.role))
        if o is None:
            continue
        a, b = sorted(set(r.statements)), sorted(set(o.statements))
        big, small = (a, b) if bigger_first else (b, a)
        if a == b:
            mark = "equal"
        elif max(big) < min(small):
            mark = "fewer on the bigger fleet (estimated count)"
        else:
            mark = "MORE on the bigger fleet"
            differing += 1
        print(f"  {r.case:<34} {r.role:<9} {a!s:>10} {b!s:>10}  {mark}")
    grows = f"{differing} case(s) grow with the fleet"
    print(grows if differing else "no statement count grows with the fleet")
    return not differing


def other_processes() -> list[str]:
    """Other pytest or benchmark processes that would skew the figures."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "pytest" in cmdline or "bench/" in cmdline:
            found.append(f"{pid}: {cmdline[:100]}")
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--server", default=SERVER, help="PostgreSQL URL without database")
    parser.add_argument("--url", help="measure a running server at this base URL instead")
    parser.add_argument("--compare", metavar="DATABASE", help="statement counts on this fleet too")
    parser.add_argument(
        "--pg-option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="PostgreSQL setting for the in-process app's connections, e.g. jit=off (repeatable)",
    )
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per case and role")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per case at most")
    parser.add_argument("--roles", default="superuser,lab,north")
    parser.add_argument("--only", help="only the cases whose name contains this")
    parser.add_argument("--skip", default="", help="comma-separated case names to leave out")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN each case's slowest SQL")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each case as it ends")
    args = parser.parse_args(argv)
    roles = [r for r in args.roles.split(",") if r]
    busy = other_processes()
    if busy:
        print("WARNING: other test or benchmark processes are running:\n  " + "\n  ".join(busy))
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()}, database {args.database}")
    if args.pg_option:
        print("PostgreSQL settings: " + ", ".join(args.pg_option))
    pg_options = tuple(args.pg_option)
    if args.url:
        target = Remote(args.database, args.url)
    else:
        target = InProcess(args.database, args.server, pg_options)
    results = run_all(target, args.database, args.server, args, roles)
    if not args.verbose:
        show(results)
    else:
        print()
    ok = summary(results)
    record = {
        "database": args.database,
        "url": args.url,
        "load_end": os.getloadavg(),
        "pg_options": args.pg_option,
        "results": [r.as_dict() for r in results],
    }
    if args.compare:
        other_target = InProcess(args.compare, args.server, pg_options)
        quick = argparse.Namespace(**{**vars(args), "repeat": 1, "warmup": 1, "budget": 0})
        other = run_all(other_target, args.compare, args.server, quick, roles)
        ok &= compare(results, other, (args.database, args.compare))
        record["compare"] = {"database": args.compare, "results": [r.as_dict() for r in other]}
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=1, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
