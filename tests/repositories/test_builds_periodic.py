"""Periodic tasks of the repositories, called directly: the build check, the clean-up of stale
stages and the restart of ``auto_restart`` rollouts."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
from sqlalchemy import select, update

from migasfree_pyramid.models import DeploymentBuild
from migasfree_pyramid.repositories import builds, layout, maintenance, tasks
from migasfree_pyramid.repositories.locks import build_lock
from migasfree_pyramid.tasks.runtime import task_request


def set_build(registry, deployment_id, **values) -> None:
    with task_request(registry) as request:
        builds.mark_requested(request.dbsession, [deployment_id])
        if not values:
            return
        request.dbsession.execute(
            update(DeploymentBuild)
            .where(DeploymentBuild.deployment_id == deployment_id)
            .values(**values)
        )


def row(dbsession, deployment) -> DeploymentBuild:
    dbsession.expire_all()
    return dbsession.get(DeploymentBuild, deployment.id)


@pytest.fixture
def queued(monkeypatch):
    """Build tasks recorded instead of run (huey is immediate in the tests)."""
    calls = []
    monkeypatch.setattr(tasks, "build_repository", calls.append)
    return calls


@pytest.fixture
def now():
    return dt.datetime.now(dt.UTC)


def test_check_requests_what_would_not_be_built_otherwise(
    fake_pms, task_runner, registry, dbsession, make, now, queued
):
    never = make.deployment()
    failed_long_ago, failed_now = make.deployment(), make.deployment()
    dead, running, fine = make.deployment(), make.deployment(), make.deployment()
    external = make.deployment(source="E", base_url="http://deb.example.org/debian")
    not_built = make.deployment(project=make.project(pms="nobuild"))
    old = now - dt.timedelta(hours=2)
    set_build(registry, failed_long_ago.id, state="failed", pending=False, finished_at=old)
    set_build(registry, failed_now.id, state="failed", pending=False, finished_at=now)
    for deployment in (dead, running):
        set_build(registry, deployment.id, state="building", pending=False, started_at=old)
    set_build(registry, fine.id, state="idle", pending=False, finished_at=old)

    lock = build_lock(registry.settings, running.id)
    assert lock.acquire()
    try:
        wanted = maintenance.check_builds(registry)
    finally:
        lock.release()
    assert sorted(wanted) == sorted([never.id, failed_long_ago.id, dead.id])
    assert external.id not in wanted and not_built.id not in wanted
    assert row(dbsession, dead).last_error == maintenance.INTERRUPTED
    assert row(dbsession, running).last_error is None
    assert row(dbsession, never).pending is True

    # What it requested is queued after its commit.
    assert sorted(queued) == sorted(wanted)
    for pk in wanted:
        builds.build_deployment(registry, pk)
    assert {row(dbsession, d).state for d in (never, failed_long_ago, dead)} == {"idle"}


def test_check_recovers_a_lost_task(fake_pms, task_runner, registry, make, queued):
    deployment = make.deployment()
    set_build(registry, deployment.id)  # queued, and its task was never run
    assert maintenance.check_builds(registry) == [deployment.id]
    assert queued == [deployment.id]


def test_clean_leftovers_removes_what_builds_left_only(
    fake_pms, task_runner, registry, make, public
):
    deployment = make.deployment(name="office")
    set_build(registry, deployment.id)
    builds.build_deployment(registry, deployment.id)
    live = os.path.join(public, deployment.project.slug, "repos", "dists", "office")
    killed = layout.sibling(live, "build", "1-killed")
    os.mkdir(killed)
    parent = os.path.dirname(live)
    gone_old = os.path.join(parent, ".removed.build-1-old")
    gone_young = os.path.join(parent, ".removed.build-2-young")
    foreign_live = os.path.join(parent, ".imported.build-3-old")
    for path in (gone_old, gone_young, foreign_live):
        os.mkdir(path)
    os.symlink(".imported.build-3-old", os.path.join(parent, "imported"))
    # A deployment removed long ago whose removal never ran: its live link and its build.
    orphan_link = os.path.join(parent, "removed-long-ago")
    orphan_build = os.path.join(parent, ".removed-long-ago.build-4-old")
    os.mkdir(orphan_build)
    os.symlink(os.path.basename(orphan_build), orphan_link)
    legacy = os.path.join(parent, "legacy")  # a real directory: never ours to remove
    os.mkdir(legacy)
    hours_ago = time.time() - 2 * 3600
    for path in (gone_old, foreign_live, orphan_build, orphan_link, legacy):
        os.utime(path, (hours_ago, hours_ago), follow_symlinks=False)

    assert maintenance.clean_leftovers(registry) == 4
    assert not os.path.exists(killed) and not os.path.exists(gone_old)
    assert not os.path.lexists(orphan_link) and not os.path.exists(orphan_build)
    assert os.path.isdir(gone_young)  # may be a deployment's first build, just started
    assert os.path.isdir(foreign_live)  # served by a link made less than an hour ago
    assert os.path.isdir(legacy)
    assert os.path.islink(live) and os.path.isdir(os.path.join(parent, os.readlink(live)))


def test_restart_moves_ended_rollouts_only(task_runner, registry, dbsession, make):
    attribute = make.attribute("ROL", "teacher")
    schedule = make.schedule(delays=[(0, 1, [attribute]), (2, 3, [attribute])])
    monday = dt.date(2026, 11, 2)
    ended = make.deployment(auto_restart=True, schedule=schedule, start_date=monday)
    running = make.deployment(
        auto_restart=True, schedule=schedule, start_date=dt.date(2026, 11, 16)
    )
    manual = make.deployment(auto_restart=False, schedule=schedule, start_date=monday)
    unscheduled = make.deployment(auto_restart=True, start_date=monday)
    today = dt.date(2026, 11, 12)

    assert maintenance.restart_deployments(registry, today) == [ended.id]
    dates = dict(
        dbsession.execute(
            select(ended.__class__.id, ended.__class__.start_date).where(
                ended.__class__.id.in_([ended.id, running.id, manual.id, unscheduled.id])
            )
        ).all()
    )
    # Ends 5 working days after Monday 2nd (Monday 9th); restarts the next working day.
    assert dates[ended.id] == dt.date(2026, 11, 10)
    assert dates[running.id] == dt.date(2026, 11, 16)
    assert dates[manual.id] == monday and dates[unscheduled.id] == monday
    assert maintenance.restart_deployments(registry, today) == []  # idempotent


def test_periodic_tasks_run_when_called(fake_pms, task_runner, registry, make):
    deployment = make.deployment()
    tasks.check_repositories.call_local()
    tasks.clean_repository_leftovers.call_local()
    tasks.restart_deployments.call_local()
    # Requested by the check, then built at once (huey is immediate in the tests).
    with task_request(registry) as request:
        status = request.dbsession.get(DeploymentBuild, deployment.id)
        assert (status.state, status.build_count) == ("idle", 1)
