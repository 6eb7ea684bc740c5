"""Internal deployments as package repositories: builds as huey tasks (repositories.md 2, 4).

- ``subscribers``: package and deployment events → pending flags and queued tasks;
- ``builds``: the build loop (lock, claim, stage, ``PackageManager.build``, atomic swap, status
  and notifications); ``layout``: the directories; ``locks``: one build per deployment;
- ``tasks``: the huey tasks, periodic ones included (``maintenance``);
- ``status``: ``generating/`` and ``internal-sources/{id}/build/``;
- ``public``: ``/pub/`` served by the app in development.
"""

from __future__ import annotations

from ..settings import Setting, as_int, read_settings

SETTINGS = (
    Setting(
        "repositories.lock_ttl",
        as_int(1),
        60,
        "seconds a dead worker's build lock (Redis) outlives it; renewed while building",
    ),
    Setting(
        "repositories.build_timeout",
        as_int(1),
        7200,
        "seconds after which a build is considered stuck and its lock expires",
    ),
    Setting(
        "repositories.retry_failed_minutes",
        as_int(1),
        60,
        "a failed build is retried by the periodic check after this many minutes",
    ),
)


def includeme(config) -> None:
    settings = config.get_settings()
    settings.update(read_settings(settings, SETTINGS))
    from . import tasks  # noqa: F401 (registers the tasks with huey)

    config.include(".subscribers")
    config.include(".status")
    config.include(".public")
