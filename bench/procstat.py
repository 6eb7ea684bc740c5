"""CPU seconds and memory of the server's processes, read from /proc (Linux only).

A benchmark takes a ``snapshot`` before and after its load and subtracts them: utime + stime of
every process of each role, so the figure is what the machine spent, whatever the wall time.

Roles and how their processes are found:

- ``web``: the gunicorn master (the pid we started) and all its descendants;
- ``huey``: the huey consumer we started and its descendants;
- ``postgres``: the postmaster and its shared auxiliary processes (checkpointer, WAL writer...),
  the backends connected to the benchmark's database, their parallel workers and autovacuum
  workers on it; backends and workers of other databases (other engineers' test runs on this
  shared machine) are left out;
- ``redis``: every ``redis-server`` process (shared with the tests' database 15: small noise);
- ``client``: the load driver's worker processes (their crypto is not the server's).

A process that starts during the load counts from zero; one that exits during the load takes
its CPU with it (gunicorn workers and pooled backends live for the whole run, so this is rare).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
BACKEND = re.compile(r"^postgres: [^:]+: (\S+) (\S+) (\S+\(\d+\)|\[local\])")
PARALLEL = re.compile(r"parallel worker for PID (\d+)")


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return None


def stat(pid: int) -> tuple[str, int, float] | None:
    """``(comm, ppid, cpu seconds)`` of a live process, None if it is gone."""
    text = _read(f"/proc/{pid}/stat")
    if text is None:
        return None
    # comm may contain spaces and parentheses: split at the last ")".
    comm = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    ppid = int(fields[1])
    utime, stime = int(fields[11]), int(fields[12])
    return comm, ppid, (utime + stime) / CLOCK_TICKS


def cmdline(pid: int) -> str:
    text = _read(f"/proc/{pid}/cmdline") or ""
    return text.replace("\0", " ").strip()


def memory(pid: int) -> tuple[int, int]:
    """``(current RSS, peak RSS)`` in bytes (VmRSS, VmHWM)."""
    text = _read(f"/proc/{pid}/status") or ""
    values = {}
    for line in text.splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":", 1)
            values[key] = int(value.split()[0]) * 1024
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def process_table() -> dict[int, tuple[str, int, float]]:
    table = {}
    for pid in all_pids():
        info = stat(pid)
        if info is not None:
            table[pid] = info
    return table


def descendants(root: int, table: dict) -> set[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for pid, (_, ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in table and pid not in found:
            found.add(pid)
            todo += children.get(pid, [])
    return found


def postgres_pids(table: dict, database: str) -> set[int]:
    """The postmaster, its shared auxiliary processes, and what works for ``database``: its
    backends, their parallel workers and autovacuum workers on it. Other databases' backends
    and workers (other people's test runs on this machine) are left out."""
    ours, parallel, shared = set(), {}, set()
    for pid, (comm, _, _) in table.items():
        if not comm.startswith("postgres"):
            continue
        line = cmdline(pid)
        match = BACKEND.match(line)
        if match is not None:
            if match.group(2) == database:
                ours.add(pid)
        elif PARALLEL.search(line):
            parallel[pid] = int(PARALLEL.search(line).group(1))
        elif "autovacuum worker" in line:
            if database in line.split():
                ours.add(pid)
        else:
            shared.add(pid)  # postmaster, checkpointer, WAL writer, launchers...
    return ours | shared | {pid for pid, leader in parallel.items() if leader in ours}


def redis_pids(table: dict) -> set[int]:
    return {pid for pid, (comm, _, _) in table.items() if comm.startswith("redis-server")}


class Roles:
    """Which pids make each role, found afresh at every snapshot."""

    def __init__(
        self,
        web_pid: int,
        huey_pid: int | None,
        database: str,
        client_pids: Iterable[int] = (),
    ):
        self.web_pid = web_pid
        self.huey_pid = huey_pid
        self.database = database
        self.client_pids = list(client_pids)

    def find(self, table: dict) -> dict[str, set[int]]:
        roles = {
            "web": descendants(self.web_pid, table),
            "huey": descendants(self.huey_pid, table) if self.huey_pid else set(),
            "postgres": postgres_pids(table, self.database),
            "redis": redis_pids(table),
            "client": set(),
        }
        for pid in self.client_pids:
            roles["client"] |= descendants(pid, table)
        return roles


def snapshot(roles: Roles) -> dict[str, dict[int, float]]:
    """``{role: {pid: cpu seconds}}`` now."""
    table = process_table()
    return {role: {pid: table[pid][2] for pid in pids} for role, pids in roles.find(table).items()}


def cpu_delta(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds per role between two snapshots (new processes count from zero)."""
    result = {}
    for role, pids in after.items():
        old = before.get(role, {})
        result[role] = sum(max(0.0, cpu - old.get(pid, 0.0)) for pid, cpu in pids.items())
    return result


def peak_memory(roles: Roles) -> dict[str, dict[str, int]]:
    """Per role: the largest peak RSS of one process and the sum of current RSS."""
    table = process_table()
    result = {}
    for role, pids in roles.find(table).items():
        values = [memory(pid) for pid in pids]
        result[role] = {
            "max_peak_rss": max((peak for _, peak in values), default=0),
            "total_rss": sum(rss for rss, _ in values),
            "processes": len(pids),
        }
    return result


def process_cpu(pid: int) -> float:
    """CPU seconds of one process (0 if it is gone)."""
    info = stat(pid)
    return 0.0 if info is None else info[2]


def backends_cpu(database: str) -> float:
    """CPU seconds of the PostgreSQL backends connected to ``database`` (no auxiliaries)."""
    total = 0.0
    for pid, (comm, _, cpu) in process_table().items():
        if comm.startswith("postgres"):
            match = BACKEND.match(cmdline(pid))
            if match is not None and match.group(2) == database:
                total += cpu
    return total
