"""Publishing an apt repository: our ``Apt.build`` against the bare ``apt-ftparchive`` run.

Creates N small ``.deb`` files once (cached under ``var/bench/repositories/``), then times, on
a warm page cache:

- bare: ``apt-ftparchive packages <dir>`` on those files (the tool alone, one process);
- cold: ``Apt.build`` with an empty cache (Packages, Packages.gz, Release, InRelease,
  Release.gpg: everything a client needs);
- warm: a rebuild after one package changed (a new file in the store);
- noop: a rebuild with nothing changed.

Placing the stage's symlinks is the orchestrator's work and is timed apart. The target
(issue 4): cold <= 1.3 x bare.

Run: ``.venv/bin/python -m bench.repositories [--count 1000] [--size-kb 2] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from migasfree_pyramid.crypto.gpg import Signer  # noqa: E402
from migasfree_pyramid.pms import apt as apt_module  # noqa: E402
from migasfree_pyramid.pms.base import BuildContext  # noqa: E402

WORK = os.path.join(ROOT, "var", "bench", "repositories")


def make_deb(dest: str, name: str, version: str, size: int, seed: str = "") -> str:
    """One package with ``size`` bytes of incompressible payload (dpkg-deb, gzip -1)."""
    target = os.path.join(dest, f"{name}_{version}_amd64.deb")
    with tempfile.TemporaryDirectory(dir=WORK) as root:
        os.makedirs(os.path.join(root, "DEBIAN"))
        os.makedirs(os.path.join(root, "usr", "share", name))
        with open(os.path.join(root, "DEBIAN", "control"), "w") as handle:
            handle.write(
                f"Package: {name}\nVersion: {version}\nArchitecture: amd64\n"
                "Maintainer: Bench <bench@example.org>\n"
                f"Description: benchmark package {name}{seed}\n a package of the benchmark\n"
            )
        with open(os.path.join(root, "usr", "share", name, "data"), "wb") as handle:
            handle.write(os.urandom(size))
        tmp = f"{target}.tmp"
        subprocess.run(  # noqa: S603
            ["dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "--build", root, tmp],  # noqa: S607
            check=True,
            capture_output=True,
        )
        os.replace(tmp, target)  # a new file, as a store upload writes it
    return target


def package_set(count: int, size_kb: int) -> str:
    folder = os.path.join(WORK, f"debs-{count}-{size_kb}k")
    names = [f"pkg{i:05d}" for i in range(count)]
    if os.path.isdir(folder) and len(os.listdir(folder)) == count:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    print(f"creating {count} packages of {size_kb} KB in {folder} ...", flush=True)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(lambda n: make_deb(folder, n, "1.0", size_kb * 1024), names))
    return folder


class Clock:
    """Wall time and CPU time: ours, our children's (apt-ftparchive, gpg) and gpg-agent's
    (which makes the RSA signatures). CPU time barely moves when other work shares the
    machine, wall time does."""

    def __init__(self, gnupg_home: str):
        self.agent = None
        result = subprocess.run(  # noqa: S603
            ["gpg-connect-agent", "--homedir", gnupg_home, "getinfo pid", "/bye"],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        )
        for line in result.stdout.splitlines():
            if line.startswith("D "):
                self.agent = f"/proc/{line.split()[1]}/stat"
        self.ticks = os.sysconf("SC_CLK_TCK")

    def cpu(self) -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        total = time.process_time() + children.ru_utime + children.ru_stime
        if self.agent and os.path.exists(self.agent):
            with open(self.agent) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / self.ticks
        return total

    def measure(self, label: str, results: dict, function, *args):
        """Call ``function(*args)``, append its (wall, CPU) seconds to ``results[label]``."""
        wall, cpu = time.perf_counter(), self.cpu()
        value = function(*args)
        results.setdefault(label, []).append((time.perf_counter() - wall, self.cpu() - cpu))
        return value


def run_bare(folder: str, out: str) -> None:
    with open(out, "wb") as handle:
        subprocess.run(  # noqa: S603
            ["apt-ftparchive", "packages", folder],  # noqa: S607
            stdout=handle,
            stderr=subprocess.DEVNULL,
            check=True,
        )


class Run:
    """A public tree for one series of builds (cold, warm, noop) with its own cache."""

    def __init__(self, folder: str, signer: Signer):
        self.base = tempfile.mkdtemp(dir=WORK, prefix="run-")
        self.folder, self.signer = folder, signer
        self.dists = os.path.join(self.base, "pub", "proj", "repos", "dists")
        self.cache = os.path.join(self.base, "cache")
        os.makedirs(self.dists)
        self.builds = 0

    def stage(self) -> BuildContext:
        """The orchestrator's part: a stage with a link per package."""
        self.builds += 1
        stage = os.path.join(self.dists, f".stable.build-{self.builds}")
        pkgs = os.path.join(stage, "PKGS")
        os.makedirs(pkgs)
        packages = []
        for name in sorted(os.listdir(self.folder)):
            path = os.path.join(self.folder, name)
            os.symlink(os.path.relpath(path, pkgs), os.path.join(pkgs, name))
            packages.append((name, path))
        return BuildContext(
            stage_dir=stage,
            live_name="stable",
            repos_root=os.path.dirname(self.dists),
            architecture="amd64",
            packages=tuple(packages),
            signer=self.signer,
            cache_dir=self.cache,
        )

    def close(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="packages (default 1000)")
    parser.add_argument("--size-kb", type=int, default=2, help="payload per package (default 2)")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument(
        "--jobs", type=int, default=0, help="apt-ftparchive processes of a rebuild (0: CPUs)"
    )
    args = parser.parse_args(argv)
    logging.disable(logging.INFO)
    os.makedirs(WORK, exist_ok=True)
    if args.jobs:
        apt_module.scan_jobs = lambda: args.jobs
    folder = package_set(args.count, args.size_kb)
    signer = Signer(os.path.join(WORK, "keys"))
    signer.fingerprint  # noqa: B018 (creates the key once, outside the timings)
    warm_up = os.path.join(WORK, "warm-up.txt")
    with open(warm_up, "w") as handle:
        handle.write("warm up\n")
    signer.detach_sign(warm_up, f"{warm_up}.asc")  # starts gpg-agent, as a running server has
    clock = Clock(signer.home)
    changed = sorted(os.listdir(folder))[args.count // 2].split("_")[0]
    results: dict[str, list[tuple[float, float]]] = {}
    out = os.path.join(WORK, "Packages")
    run_bare(folder, out)  # warms the page cache
    builder = apt_module.Apt()
    for index in range(args.repeat):
        clock.measure("bare apt-ftparchive packages", results, run_bare, folder, out)
        run = Run(folder, signer)
        try:
            ctx = clock.measure("placing links (orchestrator)", results, run.stage)
            clock.measure("Apt.build, cold", results, builder.build, ctx)
            make_deb(folder, changed, "1.0", args.size_kb * 1024, seed=f" {index}")
            clock.measure("Apt.build, one package changed", results, builder.build, run.stage())
            clock.measure("Apt.build, nothing changed", results, builder.build, run.stage())
        finally:
            run.close()

    size = sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder))
    load = os.getloadavg()[0]
    print(
        f"{args.count} packages, {size / args.count / 1024:.1f} KB each; "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load {load:.1f}; {args.repeat} runs"
    )
    print(f"  {'':<34} {'wall median':>12} {'wall min':>10} {'CPU mean':>10}")
    summary = {}
    for label, values in results.items():
        walls = [wall for wall, _ in values]
        cpu = statistics.mean(cpu for _, cpu in values)
        summary[label] = (statistics.median(walls), min(walls), cpu)
        print(
            f"  {label:<34} {summary[label][0] * 1000:9.1f} ms {min(walls) * 1000:7.1f} ms "
            f"{cpu * 1000:7.1f} ms"
        )
    bare, cold = summary["bare apt-ftparchive packages"], summary["Apt.build, cold"]
    print(
        f"  cold / bare: wall median {cold[0] / bare[0]:.2f}, wall min {cold[1] / bare[1]:.2f}, "
        f"CPU {cold[2] / bare[2]:.2f} (target <= 1.3)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
