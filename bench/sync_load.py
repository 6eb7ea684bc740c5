"""Sync load: N distinct computers doing complete v5 syncs against the production-like server.

The driver is the tests' protocol-faithful agent (``tests.agents.V5Agent`` over a real HTTP
``HttpTransport``): real envelopes (jwcrypto, RSA-2048), the call order and skip rules of
protocol-v5 section 5. Payloads (``Fleet``): 10 client formulas (HST, NET, PCI and seven more),
~1,500 installed packages ``name_version_arch.deb`` of which three change version at every
sync, an lshw tree of ~150 nodes on the first sync (the server asks for it once per period).

Phases (``run``): data set-up (formulas, attribute sets, domains, deployments with schedules,
fault definitions); the first sync of every computer (registration, lshw, full inventory);
then for each concurrency C: C client *processes* (the client's crypto must not share a
Python interpreter with the measurement), a warm-up, a measured window, the huey queue drained,
and the CPU seconds of every server process read from /proc (``procstat``) around it.

Usage: ``scripts/bench sync [--computers 2000] [--clients 1,4,16] [--seconds 60]`` (see
``--help`` and bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import crypto_floor, procstat  # noqa: E402
from bench import sync_payloads as fleet_data  # noqa: E402
from bench.server import DATABASE, queue_length, running_server  # noqa: E402
from tests.agents import ClientExit, HttpTransport, V5Agent  # noqa: E402

PROCESSES = mp.get_context("fork")


# -- the client side: one process drives a slice of the fleet ----------------------------------


def _agent(fleet, transport, index: int, keys: dict | None, generation: int):
    agent = V5Agent(
        transport,
        fleet.project(index),
        fleet.uuid(index),
        fleet.name(index),
        ip_address=fleet.ip(index),
        check_payload=False,  # the real client does not compare; we still decrypt and verify
    )
    if keys:
        agent.keys.update(keys)
    agent.inventory = fleet.inventory(index, generation) if generation else None
    return agent


class TimedTransport(HttpTransport):
    """``HttpTransport`` that records ``(path, seconds)`` of every request it sends."""

    def __init__(self, base_url: str):
        super().__init__(base_url)
        self.timings: list[tuple[str, float]] = []

    def send(self, method, path, body, content_type, headers):
        started = time.perf_counter()
        try:
            return super().send(method, path, body, content_type, headers)
        finally:
            self.timings.append((path, time.perf_counter() - started))


def sync_once(fleet, agent, index: int, generation: int) -> tuple[bool, str]:
    """Sync ``index`` as its ``generation``-th sync (1 = first). ``(ok, error)``."""
    first = len(agent.calls)
    try:
        agent.sync(
            attributes=fleet.attributes(index),
            inventory=fleet.inventory(index, generation),
            lshw=fleet.lshw(index),
            faults=fleet.faults(index, generation),
            sync_user=fleet.user(index),
            sync_fullname=fleet.user(index).title(),
        )
    except ClientExit as exc:
        return False, f"exit {exc.code}: {exc.info[:200]}"
    finally:
        calls, agent.calls[:] = agent.calls[first:], []
        agent.envelope_errors.clear()
    bad = [c for c in calls if c.status is None or c.status >= 400]
    if bad:
        return False, f"{bad[0].path} {bad[0].status}: {str(bad[0].value)[:200]}"
    agent.last_cycle = calls
    return True, ""


def worker(conn, number: int, indexes: list[int], base_url: str, fleet, state: dict, stop):
    """A client process: syncs its computers round-robin on command (see ``Phase``)."""
    transport = TimedTransport(base_url)
    keys = state.get("keys") or {}
    agents = {
        i: _agent(fleet, transport, i, keys.get(fleet.project(i)), state["generation"].get(i, 0))
        for i in indexes
    }
    generation = {i: state["generation"].get(i, 0) for i in indexes}
    position = 0
    while True:
        command = conn.recv()
        if command == "quit":
            conn.send({"generation": generation})
            return
        transport.timings.clear()
        syncs, errors, cycle = [], [], None
        cpu = time.process_time()
        todo = list(indexes) if command == "first" else None
        while todo or (todo is None and not stop.is_set()):
            if todo is not None:
                index = todo.pop(0)
            else:
                index = indexes[position % len(indexes)]
                position += 1
            agent = agents[index]
            started = time.perf_counter()
            ok, error = sync_once(fleet, agent, index, generation[index] + 1)
            syncs.append((started, time.perf_counter(), ok))
            if ok:
                generation[index] += 1
                cycle = agent.last_cycle
            else:
                errors.append(error)
        conn.send(
            {
                "worker": number,
                "cpu": time.process_time() - cpu,
                "syncs": syncs,
                "errors": errors[:20],
                "error_count": len(errors),
                "timings": transport.timings,
                "cycle": [(c.path, c.sent, c.value) for c in cycle or ()] if number == 0 else None,
                "keys": {fleet.project(i): a.keys for i, a in agents.items() if a.has_keys},
            }
        )


class Phase:
    """C client processes over the fleet; ``go(command)`` runs one phase in all of them."""

    def __init__(self, base_url: str, fleet, clients: int, state: dict):
        self.stop = PROCESSES.Event()
        self.pipes, self.procs = [], []
        for number in range(clients):
            indexes = list(range(number, fleet.size, clients))
            parent, child = PROCESSES.Pipe()
            proc = PROCESSES.Process(
                target=worker,
                args=(child, number, indexes, base_url, fleet, state, self.stop),
                daemon=True,
            )
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def start(self, command: str) -> None:
        self.stop.clear()
        for pipe in self.pipes:
            pipe.send(command)

    def finish(self, seconds: float | None = None) -> list[dict]:
        """Let a timed phase run ``seconds``, then collect every worker's report."""
        if seconds is not None:
            time.sleep(seconds)
            self.stop.set()
        return [pipe.recv() for pipe in self.pipes]

    def close(self) -> dict[int, int]:
        generation: dict[int, int] = {}
        for pipe in self.pipes:
            pipe.send("quit")
            generation.update(pipe.recv()["generation"])
        for proc in self.procs:
            proc.join(10)
        return generation


# -- figures ---------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summarize(reports: list[dict]) -> dict:
    syncs = [s for r in reports for s in r["syncs"]]
    ok = [s for s in syncs if s[2]]
    wall = (max(s[1] for s in syncs) - min(s[0] for s in syncs)) if syncs else 0.0
    by_path: dict[str, list[float]] = {}
    for report in reports:
        for path, seconds in report["timings"]:
            short = path.replace("/api/v1/", "")
            by_path.setdefault(short, []).append(seconds * 1000)
    durations = [(s[1] - s[0]) * 1000 for s in ok]
    return {
        "syncs": len(ok),
        "failed_syncs": len(syncs) - len(ok),
        "errors": [e for r in reports for e in r["errors"]][:10],
        "wall_seconds": round(wall, 2),
        "syncs_per_second": round(len(ok) / wall, 2) if wall else 0.0,
        "sync_ms": {
            "p50": round(percentile(durations, 0.5), 1),
            "p95": round(percentile(durations, 0.95), 1),
            "p99": round(percentile(durations, 0.99), 1),
        },
        "endpoints_ms": {
            path: {
                "n": len(values),
                "p50": round(percentile(values, 0.5), 1),
                "p95": round(percentile(values, 0.95), 1),
                "p99": round(percentile(values, 0.99), 1),
            }
            for path, values in sorted(by_path.items())
        },
        "client_cpu_seconds": round(sum(r["cpu"] for r in reports), 2),
    }


def wait_drained(server, quiet: float = 1.0, limit: float = 900.0) -> float:
    """Seconds until the huey queue is empty and the worker stopped burning CPU (its idle
    polling of Redis costs well under 2% of a core)."""
    started = time.monotonic()
    last = -1.0
    while time.monotonic() - started < limit:
        cpu = procstat.process_cpu(server.huey_pid) if server.huey_pid else 0.0
        if queue_length(server.redis_url) == 0 and cpu - last < 0.02 * quiet:
            break
        last = cpu
        time.sleep(quiet)
    return round(time.monotonic() - started, 1)


def measured(server, fleet, clients: int, state: dict, warmup: float, seconds: float) -> dict:
    phase = Phase(server.base_url, fleet, clients, state)
    try:
        phase.start("load")
        phase.finish(warmup)
        roles = procstat.Roles(server.web_pid, server.huey_pid, DATABASE, phase.pids)
        before, load_before = procstat.snapshot(roles), os.getloadavg()
        phase.start("load")
        reports = phase.finish(seconds)
        load_end = os.getloadavg()
        drain = wait_drained(server)
        after = procstat.snapshot(roles)
        memory = procstat.peak_memory(roles)
    finally:
        state["generation"].update(phase.close())
    result = summarize(reports)
    cpu = procstat.cpu_delta(before, after)
    server_cpu = {k: v for k, v in cpu.items() if k != "client"}
    n = max(result["syncs"], 1)
    result.update(
        clients=clients,
        drain_seconds=drain,
        cpu_seconds={k: round(v, 2) for k, v in cpu.items()},
        cpu_ms_per_sync={k: round(v * 1000 / n, 1) for k, v in cpu.items()},
        server_cpu_ms_per_sync=round(sum(server_cpu.values()) * 1000 / n, 1),
        peak_rss_mb={k: round(v["max_peak_rss"] / 2**20, 1) for k, v in memory.items()},
        total_rss_mb={k: round(v["total_rss"] / 2**20, 1) for k, v in memory.items()},
        loadavg_before=load_before,
        loadavg_end=load_end,
    )
    result["client_cpu_ms_per_sync"] = round(result["client_cpu_seconds"] * 1000 / n, 1)
    cycle = next((r["cycle"] for r in reports if r["cycle"]), [])
    return result, cycle


def first_syncs(server, fleet, clients: int, state: dict) -> tuple[dict, list]:
    phase = Phase(server.base_url, fleet, clients, state)
    try:
        phase.start("first")
        reports = phase.finish()
    finally:
        state["generation"].update(phase.close())
    for report in reports:
        state.setdefault("keys", {}).update(report["keys"])
    cycle = next((r["cycle"] for r in reports if r["cycle"]), [])
    return summarize(reports), cycle


def run(args) -> dict:
    fleet = fleet_data.Fleet(args.computers, args.projects, args.packages)
    results: dict = {"computers": fleet.size, "projects": args.projects, "web_workers": args.web}
    with running_server(args.web, args.port, args.huey) as server:
        started = time.perf_counter()
        results["data"] = fleet_data.prepare(server, fleet)
        results["data"]["seconds"] = round(time.perf_counter() - started, 1)
        state: dict = {"generation": {}, "keys": {}}
        print(f"bench: first sync of {fleet.size} computers", file=sys.stderr)
        results["first_sync"], _ = first_syncs(server, fleet, args.first_clients, state)
        print(json.dumps(results["first_sync"], indent=1), file=sys.stderr)
        results["load"] = []
        for clients in args.clients:
            print(f"bench: C={clients}, {args.warmup}s warm-up, {args.seconds}s", file=sys.stderr)
            figures, cycle = measured(server, fleet, clients, state, args.warmup, args.seconds)
            if "crypto_floor" not in results:  # on a repeat sync's real payloads, load stopped
                results["crypto_floor"] = crypto_floor.measure_cycle(cycle)
                print(json.dumps(results["crypto_floor"], indent=1), file=sys.stderr)
            floor = results["crypto_floor"]["server_ms_per_sync"]
            figures["web_to_floor"] = round(figures["cpu_ms_per_sync"]["web"] / floor, 2)
            print(json.dumps(figures, indent=1), file=sys.stderr)
            results["load"].append(figures)
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="bench sync", description=__doc__.split("\n\n")[0])
    parser.add_argument("--computers", type=int, default=2000)
    parser.add_argument("--projects", type=int, default=2)
    parser.add_argument("--packages", type=int, default=1500, help="installed per computer")
    parser.add_argument("--clients", default="1,4,16", help="concurrencies, comma-separated")
    parser.add_argument("--first-clients", type=int, default=4, help="for the first syncs")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--web", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--huey", type=int, default=1, help="huey worker threads")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--output", default=os.path.join(ROOT, "var", "bench", "sync.json"))
    args = parser.parse_args(argv)
    args.clients = [int(c) for c in args.clients.split(",") if c.strip()]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    results = run(args)
    results["machine"] = crypto_floor.machine()
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1)
    print(crypto_floor.report(results))
    print(f"bench: figures written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
