"""Profile the server side of repeat syncs, in-process: the WSGI app built from the benchmark's
ini, called by the same agent through WebTest, with cProfile switched on only while the app
runs (the agent's own crypto is not in the profile).

Run after ``scripts/bench sync`` (it needs the ``migasfree_bench`` database and keys the run
left): ``.venv/bin/python -m bench.profile_sync [--syncs 100] [--sort tottime]``.
It prints the server CPU per sync, the statements per call and the top of the profile.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import sync_payloads  # noqa: E402
from bench.server import BENCH_DIR, database_url, server_environment, write_ini  # noqa: E402


class Profiled:
    """A WSGI wrapper: profiles and times (CPU) the app only, counts statements per path."""

    def __init__(self, app, profiler, only: str = ""):
        self.app = app
        self.only = only
        self.profiler = profiler
        self.cpu = 0.0
        self.enabled = False
        self.path = ""
        self.statements: Counter = Counter()
        self.requests: Counter = Counter()
        self.cpu_by_path: Counter = Counter()

    def __call__(self, environ, start_response):
        self.path = environ["PATH_INFO"]
        if not self.enabled:
            return self.app(environ, start_response)
        self.requests[self.path] += 1
        started = time.process_time()
        profile = self.profiler is not None and self.only in self.path
        if profile:
            (self.profiler.enable if hasattr(self.profiler, "enable") else self.profiler.start)()
        try:
            return list(self.app(environ, start_response))
        finally:
            if profile:
                (
                    self.profiler.disable
                    if hasattr(self.profiler, "disable")
                    else self.profiler.stop
                )()
            spent = time.process_time() - started
            self.cpu += spent
            self.cpu_by_path[self.path] += spent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench.profile_sync")
    parser.add_argument("--syncs", type=int, default=100)
    parser.add_argument("--computers", type=int, default=20)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("--no-profile", action="store_true", help="CPU and statements only")
    parser.add_argument("--only", default="", help="profile only paths containing this")
    parser.add_argument("--pyinstrument", action="store_true", help="sampling profiler instead")
    parser.add_argument("--sql", default="", help="print the statements of paths containing this")
    parser.add_argument("--output", default=os.path.join(BENCH_DIR, "profile.pstats"))
    args = parser.parse_args(argv)

    os.environ.update(server_environment(database_url()))
    ini = write_ini(os.path.join(BENCH_DIR, "bench.ini"))
    from pyramid.paster import get_app
    from sqlalchemy import event
    from webtest import TestApp

    from migasfree_pyramid.db import ENGINE_KEY
    from tests.agents import V5Agent

    app = get_app(ini)
    profiler = None if args.no_profile else cProfile.Profile(time.process_time)
    if args.pyinstrument:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0002)
    wrapped = Profiled(app, profiler, args.only)

    def count(_conn, _cursor, statement, *_args):
        if wrapped.enabled:
            wrapped.statements[wrapped.path] += 1
            if args.sql and args.sql in wrapped.path and wrapped.requests[wrapped.path] == 1:
                print(f"-- {wrapped.path}\n{statement[:400]}\n")

    event.listen(app.registry[ENGINE_KEY], "before_cursor_execute", count)
    testapp = TestApp(wrapped)
    fleet = sync_payloads.Fleet(max(args.computers, 2), 2)
    agents = []
    for index in range(args.computers):
        agent = V5Agent(
            testapp, fleet.project(index), fleet.uuid(index), fleet.name(index), fleet.ip(index)
        )
        agent.register()
        agents.append(agent)

    def sync(round_: int, agent, index) -> None:
        generation = 1000 + round_
        agent.inventory = fleet.inventory(index, generation - 1)
        calls = agent.sync(
            attributes=fleet.attributes(index),
            inventory=fleet.inventory(index, generation),
            lshw=fleet.lshw(index),
            faults=fleet.faults(index, generation),
            sync_user=fleet.user(index),
        )
        bad = [(c.path, c.status) for c in calls if not c.ok]
        if bad:
            raise SystemExit(f"sync failed: {bad}")
        agent.calls.clear()

    for index, agent in enumerate(agents):  # warm: caches, first-time rows
        sync(0, agent, index)
    wrapped.enabled = True
    for n in range(args.syncs):
        sync(1 + n // len(agents), agents[n % len(agents)], n % len(agents))
    wrapped.enabled = False

    mode = "off" if profiler is None else "on"
    per_sync = wrapped.cpu * 1000 / args.syncs
    print(f"server CPU per sync (in-process, profiler {mode}): {per_sync:.1f} ms")
    print("per call: statements, CPU ms")
    for path, n in sorted(wrapped.requests.items()):
        cpu = wrapped.cpu_by_path[path] * 1000 / n
        print(f"  {path:50} {wrapped.statements[path] / n:5.1f} {cpu:7.2f}")
    if profiler is None:
        return 0
    if args.pyinstrument:
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        return 0
    profiler.dump_stats(args.output)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats(args.sort).print_stats(args.limit)
    print(out.getvalue())
    print(f"profile saved to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
