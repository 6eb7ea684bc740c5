"""Run by ``test_builds_worker`` in a process of its own (``python -m``), on a SQLite site.

``consume <ini> <mode> <marker>``: request a build of deployment 1, then run ``migasfree-worker``
(the real huey consumer) with the fake package manager in ``mode`` ("hang" waits to be killed).
``recover <ini>``: what the periodic check does, repeated until deployment 1 is built again
(the killed build's Redis lock must expire first); tasks run in-process (huey immediate).
"""

from __future__ import annotations

import sys
import time

from pyramid.paster import get_appsettings

from migasfree_pyramid import make_config
from migasfree_pyramid.models import DeploymentBuild
from migasfree_pyramid.pms import REGISTRY
from migasfree_pyramid.repositories import maintenance
from migasfree_pyramid.repositories.subscribers import request_builds
from migasfree_pyramid.tasks import worker
from migasfree_pyramid.tasks.runtime import task_request

from .fakes import FakePMS

DEPLOYMENT_ID = 1


def configure(ini: str, **overrides):
    settings = {**get_appsettings(ini), **overrides}
    return make_config(settings).registry


def state(registry) -> str | None:
    with task_request(registry) as request:
        row = request.dbsession.get(DeploymentBuild, DEPLOYMENT_ID)
        return None if row is None else row.state


def main(argv) -> int:
    action, ini = argv[0], argv[1]
    if action == "consume":
        mode, marker = argv[2], argv[3]
        REGISTRY["apt"] = FakePMS(mode=mode, marker=marker)
        registry = configure(ini)
        with task_request(registry) as request:
            request_builds(request, [DEPLOYMENT_ID])  # queued in huey's SQLite file on commit
        return worker.main([ini, "--workers", "1", "--no-periodic"])
    if action == "recover":
        REGISTRY["apt"] = FakePMS()
        registry = configure(ini, **{"huey.backend": "immediate"})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            maintenance.check_builds(registry)
            if state(registry) == "idle":
                return 0
            time.sleep(0.3)
        return 1
    raise SystemExit(f"unknown action {action}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
