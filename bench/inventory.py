"""Inventory processing: a software upload of 2,000 packages with 20 changes, per sync.

In-process against PostgreSQL (a fresh ``migasfree_bench`` database, migrated and seeded as the
server does): ``migasfree_addons.clients.software.process`` runs in its own transaction, as
the ``computers/software/`` view does, for computers that already sent their first inventory.
Each sync upgrades 10 packages (10 removed + 10 installed = 20 changes, with the client's
``+``/``-`` history). Reported per sync: wall time (the server time at C=1: Python and the
database), the Python CPU, the database backend's CPU (from /proc) and the statements.

``--endpoint`` measures the whole safe call instead (the agent's envelope through the WSGI app:
decryption, verification, the view, the signed and encrypted reply).

Usage: ``scripts/bench inventory [--computers 20] [--syncs 200] [--packages 2000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import crypto_floor, procstat  # noqa: E402
from bench.server import (  # noqa: E402
    BENCH_DIR,
    VENV_BIN,
    database_url,
    recreate_database,
    server_environment,
    stop_gpg_agent,
    write_ini,
)

CHANGES = 20
DATABASE = "migasfree_bench_inventory"


def package_list(computer: int, generation: int, size: int) -> list[str]:
    """``size`` packages; at each generation the next ``CHANGES // 2`` get a new version."""
    half = CHANGES // 2
    names = []
    for p in range(size):
        turn = (p // half) % (size // half) or size // half
        revision = 0 if generation < turn else (generation - turn) // (size // half) + 1
        arch = "all" if p % 4 == 0 else "amd64"
        names.append(f"pkg{p:05d}-{computer % 3}_{1 + p % 9}.{p % 31}.{revision}-1_{arch}.deb")
    return sorted(names)


def history(before: list[str], after: list[str]) -> dict:
    old, new = set(before), set(after)
    return {
        "installed": [f"+{n}" for n in sorted(new - old)],
        "uninstalled": [f"-{n}" for n in sorted(old - new)],
    }


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]  # noqa: E731
    return {
        "mean": round(statistics.fmean(values), 2),
        "p50": round(pick(0.5), 2),
        "p95": round(pick(0.95), 2),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench inventory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--computers", type=int, default=20)
    parser.add_argument("--syncs", type=int, default=200)
    parser.add_argument("--packages", type=int, default=2000)
    parser.add_argument("--endpoint", action="store_true", help="the whole safe call")
    parser.add_argument("--output", default=os.path.join(BENCH_DIR, "inventory.json"))
    args = parser.parse_args(argv)

    # A database of its own: the sync benchmark's may be in use.
    os.environ.update(server_environment(database_url(DATABASE)))
    ini = write_ini(os.path.join(BENCH_DIR, "inventory.ini"))
    recreate_database(DATABASE)
    initdb = [os.path.join(VENV_BIN, "migasfree-initdb"), ini]
    subprocess.run(initdb, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    stop_gpg_agent(os.path.join(BENCH_DIR, "var", "keys", ".gnupg"))
    import transaction
    from pyramid.paster import get_app
    from pyramid.scripting import prepare
    from sqlalchemy import event

    from migasfree_addons.clients import software
    from migasfree_pyramid.db import ENGINE_KEY, SESSION_FACTORY_KEY, get_tm_session
    from migasfree_pyramid.models import Computer
    from tests.factories import Factory

    app = get_app(ini)
    registry = app.registry
    engine = registry[ENGINE_KEY]
    statements = [0]

    def count(*_args):
        statements[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    factory = registry[SESSION_FACTORY_KEY]

    with factory() as session:
        make = Factory(session)
        project = make.project(name="bench-inventory")
        ids = [make.computer(project=project).id for _ in range(args.computers)]
        session.commit()

    def upload(computer_id: int, inventory, hist) -> None:
        env = prepare(registry=registry)
        manager = transaction.TransactionManager(explicit=True)
        with manager:
            request = env["request"]
            request.tm = manager
            session = request.dbsession = get_tm_session(factory, manager, request)
            computer = session.get(Computer, computer_id)
            software.process(request, computer, inventory, hist)
        session.close()
        env["closer"]()

    agents = {}
    if args.endpoint:
        from webtest import TestApp

        from tests.agents import V5Agent

        testapp = TestApp(app)
        with factory() as session:
            for cid in ids:
                computer = session.get(Computer, cid)
                agent = V5Agent(testapp, "bench-inventory", computer.uuid, computer.name)
                agent.register()
                agent.computer_id = cid
                agents[cid] = agent

        def upload(computer_id, inventory, hist):  # the whole call instead
            value = agents[computer_id].upload_software(inventory, hist)
            if value != "Data received":
                raise SystemExit(f"upload failed: {value}")

    first = []
    for n, cid in enumerate(ids):
        started = time.perf_counter()
        upload(cid, package_list(n, 0, args.packages), {})
        first.append((time.perf_counter() - started) * 1000)
    generation = dict.fromkeys(range(len(ids)), 0)
    wall, cpu, counts = [], [], []
    db_before = procstat.backends_cpu(DATABASE)
    for s in range(args.syncs):
        n = s % len(ids)
        before = package_list(n, generation[n], args.packages)
        generation[n] += 1
        after = package_list(n, generation[n], args.packages)
        statements[0] = 0
        started, started_cpu = time.perf_counter(), time.process_time()
        upload(ids[n], after, history(before, after))
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        counts.append(statements[0])
    db_ms = (procstat.backends_cpu(DATABASE) - db_before) * 1000 / args.syncs
    results = {
        "mode": "endpoint (envelope + view)" if args.endpoint else "software.process",
        "packages": args.packages,
        "changes_per_sync": CHANGES,
        "syncs": args.syncs,
        "first_upload_ms": summary(first),
        "wall_ms": summary(wall),
        "python_cpu_ms": summary(cpu),
        "database_cpu_ms_per_sync": round(db_ms, 2),
        "statements": {"min": min(counts), "max": max(counts)},
        "machine": crypto_floor.machine(),
    }
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
