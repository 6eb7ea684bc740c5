"""``migasfree-worker <ini>``: runs the huey consumer of the application's task queue.

It builds the application from the ini first (``pyramid.paster.bootstrap``), exactly as the web
server does: the core and every enabled addon are included, so all their task modules are
imported and registered with the one ``huey`` object, and the tasks' database and settings are
those of the ini. Then it consumes the queue the ini names (``huey.backend`` redis or sqlite)
until SIGTERM/SIGINT.

Run one worker with the periodic scheduler per site, and any others with ``--no-periodic``.
Threads are the default: the heavy work (repository tools, gpg) runs in subprocesses.
"""

from __future__ import annotations

import argparse
import logging
import sys

from pyramid.paster import bootstrap, setup_logging

from ..db import ENGINE_KEY
from . import huey

log = logging.getLogger(__name__)


def parse_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="migasfree-worker", description="Run the background tasks of migasfree-pyramid."
    )
    parser.add_argument("ini", help="the application's ini file (e.g. production.ini)")
    parser.add_argument("-w", "--workers", type=int, default=2, help="concurrent tasks (2)")
    parser.add_argument(
        "-k",
        "--worker-type",
        choices=("thread", "process"),
        default="thread",
        help="run tasks in threads (default) or forked processes",
    )
    parser.add_argument(
        "-n",
        "--no-periodic",
        action="store_true",
        help="do not schedule periodic tasks (for every worker but one)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every task")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def make_consumer(registry, args: argparse.Namespace):
    """The huey consumer for ``registry``'s queue (the app must be configured already)."""
    if registry.settings.get("huey.backend", "immediate") == "immediate":
        raise SystemExit(
            "huey.backend is 'immediate' in this ini: tasks run inside the web process and "
            "there is no queue to consume. Set huey.backend = redis (or sqlite)."
        )
    if args.worker_type == "process":
        engine = registry[ENGINE_KEY]

        @huey.on_startup()
        def fresh_connections():
            # A forked worker must not share the parent's database connections.
            engine.dispose(close=False)

    return huey.create_consumer(
        workers=args.workers,
        worker_type=args.worker_type,
        periodic=not args.no_periodic,
        check_worker_health=True,
    )


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging(args.ini)
    logging.getLogger("huey").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    env = bootstrap(args.ini)
    try:
        consumer = make_consumer(env["registry"], args)
        log.info("consuming %s with %d %s worker(s)", huey.name, args.workers, args.worker_type)
        consumer.run()
    finally:
        env["closer"]()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
