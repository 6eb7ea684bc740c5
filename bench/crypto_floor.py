"""The crypto floor: CPU the protocol itself requires of the server for one sync cycle.

Every safe call costs the server one ``unwrap`` of the request (RSA-OAEP-256 decryption of the
content key, A256CBC-HS512, RS256 verification) and one ``wrap`` of the reply (RS256 signature,
RSA-OAEP-256 encryption), done here with the server's own ``migasfree_pyramid.crypto.envelope``
on the payloads of a real cycle (recorded by the sync benchmark: the claims each call sent and
the data each reply carried) or, standalone, on synthetic payloads of the same sizes.
No web framework, no database: what is left is the floor no implementation can go below while
keeping the protocol's security. The client spends about the same again on its side.

Standalone: ``scripts/bench floor`` (or ``python -m bench.crypto_floor``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from jwcrypto import jwk  # noqa: E402

from migasfree_pyramid.crypto.envelope import unwrap, wrap  # noqa: E402


def _keys():
    server = jwk.JWK.generate(kty="RSA", size=2048)
    project = jwk.JWK.generate(kty="RSA", size=2048)
    public = {
        "server": jwk.JWK.from_pem(server.export_to_pem()),
        "project": jwk.JWK.from_pem(project.export_to_pem()),
    }
    for key in (server, project, *public.values()):
        key.thumbprint()  # as in the server, parsed keys are reused
    return server, project, public


def _cpu(fn, repeat: int) -> float:
    started = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - started) / repeat


def measure_cycle(cycle, repeat: int = 20) -> dict:
    """CPU ms per cycle of the server's (and the client's) envelope work.

    ``cycle``: ``[(path, claims, reply data)]``; only safe calls (``/safe/``) carry envelopes.
    """
    server, project, public = _keys()
    calls = [(path, claims, value) for path, claims, value in cycle if "/safe/" in path]
    server_ms = client_ms = 0.0
    per_call = {}
    for path, claims, value in calls:
        request = wrap(claims, project, public["server"])
        response = wrap(value, server, public["project"])
        decrypt = _cpu(lambda r=request: unwrap(r, server, public["project"]), repeat)
        encrypt = _cpu(lambda v=value: wrap(v, server, public["project"]), repeat)
        client = _cpu(lambda c=claims: wrap(c, project, public["server"]), repeat)
        client += _cpu(lambda r=response: unwrap(r, project, public["server"]), repeat)
        short = path.replace("/api/v1/safe/", "")
        per_call[short] = {
            "request_bytes": len(request),
            "reply_bytes": len(response),
            "server_ms": round((decrypt + encrypt) * 1000, 2),
        }
        server_ms += (decrypt + encrypt) * 1000
        client_ms += client * 1000
    return {
        "safe_calls": len(calls),
        "server_ms_per_sync": round(server_ms, 2),
        "client_ms_per_sync": round(client_ms, 2),
        "per_call": per_call,
    }


def synthetic_cycle(packages: int = 1500) -> list:
    """A repeat sync's safe calls with payloads of the benchmark's sizes."""
    from bench.sync_payloads import Fleet

    fleet = Fleet(1, 1, packages)
    cid = {"id": 1}
    previous, current = fleet.inventory(0, 1), fleet.inventory(0, 2)
    history = {
        "installed": [f"+{p}" for p in sorted(set(current) - set(previous))],
        "uninstalled": [f"-{p}" for p in sorted(set(previous) - set(current))],
    }
    computer = {k: f"value of {k}" for k in ("uuid", "name", "fqdn", "status", "summary")}
    computer.update(id=1, project={"id": 1, "name": "bench", "slug": "bench"}, tags=[])
    trait = {"id": 1, "description": "", "value": "loc-01", "name": "Location", "prefix": "LOC"}
    safe = "/api/v1/safe/"
    return [
        (safe + "computers/id/", {"uuid": fleet.uuid(0), "name": fleet.name(0)}, 1),
        (
            safe + "computers/properties/",
            cid,
            [{"prefix": "CPU", "language": "bash", "code": "x" * 200}] * 10,
        ),
        (
            safe + "computers/attributes/",
            {**cid, "uuid": fleet.uuid(0), "sync_attributes": fleet.attributes(0)},
            computer,
        ),
        (
            safe + "computers/faults/definitions/",
            cid,
            [{"language": "bash", "name": "f", "code": "x" * 80}] * 5,
        ),
        (
            safe + "computers/repositories/",
            cid,
            [{"name": "deploy", "source_template": "x" * 90}] * 12,
        ),
        (
            safe + "computers/packages/mandatory/",
            cid,
            {"install": ["bench-tool"] * 24, "remove": ["old"] * 6},
        ),
        (
            safe + "computers/software/",
            {**cid, "inventory": current, "history": history},
            "Data received",
        ),
        (safe + "computers/hardware/required/", cid, {"capture": False}),
        (safe + "computers/devices/", cid, {}),
        (safe + "computers/traits/", cid, [{**trait, "sort": "client"}] * 45),
        (
            safe + "synchronizations/",
            {
                **cid,
                "start_date": "2026-11-26T10:00:00.000001",
                "consumer": "migasfree 5.0",
                "pms_status_ok": True,
            },
            {
                "computer": 1,
                "start_date": "2026-11-26T10:00:00.000001",
                "consumer": "migasfree 5.0",
                "pms_status_ok": True,
            },
        ),
        (safe + "eot/", cid, "EOT OK"),
    ]


def machine() -> dict:
    """The machine the figures come from."""
    model = ""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout  # noqa: S607
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in lscpu.splitlines()
                if line.startswith("Model name")
            ),
            "",
        )
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "date": dt.date.today().isoformat(),
        "python": platform.python_version(),
        "loadavg": os.getloadavg(),
    }


def report(results: dict) -> str:
    """A short text summary of a sync benchmark's results (the JSON has everything)."""
    floor = results["crypto_floor"]
    lines = [
        f"machine: {results['machine']}",
        f"crypto floor per sync: server {floor['server_ms_per_sync']} ms, "
        f"client {floor['client_ms_per_sync']} ms",
        f"first sync: {results['first_sync']['syncs_per_second']} syncs/s",
        "C | syncs/s | sync p50/p95 ms | web ms | x floor | huey | postgres | redis | "
        "server ms | client ms | drain s",
    ]
    for row in results["load"]:
        cpu = row["cpu_ms_per_sync"]
        cells = (
            row["clients"],
            row["syncs_per_second"],
            f"{row['sync_ms']['p50']}/{row['sync_ms']['p95']}",
            cpu["web"],
            row["web_to_floor"],
            cpu["huey"],
            cpu["postgres"],
            cpu["redis"],
            row["server_cpu_ms_per_sync"],
            cpu["client"],
            row["drain_seconds"],
        )
        lines.append(" | ".join(str(c) for c in cells))
    return "\n".join(lines)


def main() -> int:
    figures = measure_cycle(synthetic_cycle())
    figures["machine"] = machine()
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
