"""Live sync messages: what each computer is doing now (spec E.2 ``migasfree:msg:<id>``).

Every safe step of a synchronization records a line for its computer in a Redis hash (one
pipelined round trip); the end of transmission removes it. Admins read them through
``/api/v1/token/messages/`` and the computers' ``synchronizing/`` and ``delayed/`` lists.
Without Redis (the embedded default) nothing is recorded and those lists are empty.

Dates are stored in UTC (the original wrote local time next to UTC-bucketed counters, E.2).
"""

from __future__ import annotations

import datetime as dt
import logging

import redis
from pyramid.events import NewResponse

from migasfree_pyramid.core_api.nested import computer_summary

log = logging.getLogger(__name__)

# Keys are "<prefix>:msg:<id>" and "<prefix>:watch:msg"; the prefix (migasfree.redis_prefix,
# "migasfree" like the original) lets several servers or test runs share one Redis.
SAFE = "/api/v1/safe/"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
STEPS = {
    "computers/properties/": "Getting properties...",
    "computers/attributes/": "Sending attributes...",
    "computers/faults/definitions/": "Getting fault definitions...",
    "computers/faults/": "Sending faults...",
    "computers/errors/": "Sending errors...",
    "computers/repositories/": "Getting repositories...",
    "computers/packages/mandatory/": "Getting mandatory packages...",
    "computers/software/": "Sending software...",
    "computers/hardware/required/": "Getting hardware required...",
    "computers/hardware/": "Sending hardware...",
    "computers/devices/": "Getting devices...",
    "computers/traits/": "Getting traits...",
    "computers/tags/": "Setting tags...",
    "computers/tags/assigned/": "Getting assigned tags...",
    "computers/tags/available/": "Getting available tags...",
    "synchronizations/": "Sending synchronization...",
}
END = "eot/"


def client(registry) -> redis.Redis | None:
    """A Redis client for the configured URL (one connection pool per process), or None."""
    url = registry.settings.get("migasfree.redis_url")
    if not url:
        return None
    found = registry.get("migasfree.clients.redis")
    if found is None:
        found = registry["migasfree.clients.redis"] = redis.Redis.from_url(url)
    return found


def keys(registry) -> tuple[str, str]:
    prefix = registry.settings.get("migasfree.redis_prefix") or "migasfree"
    return f"{prefix}:msg:{{}}", f"{prefix}:watch:msg"


def record(conn: redis.Redis, registry, computer, text: str) -> None:
    user = computer.sync_user
    fields = {
        "date": dt.datetime.now(dt.UTC).strftime(DATE_FORMAT),
        "computer_id": computer.id,
        "computer_name": computer.name or "",
        "computer_status": computer.status,
        "computer_summary": computer_summary(computer),
        "project_id": computer.project_id,
        "project_name": computer.project.name,
        "user_id": user.id if user else 0,
        "user_name": user.name if user else "",
        "msg": text,
    }
    key, watch = keys(registry)
    pipe = conn.pipeline(transaction=False)
    pipe.hset(key.format(computer.id), mapping=fields)
    pipe.sadd(watch, computer.id)
    pipe.execute()


def exists(conn: redis.Redis, registry, computer_id: int) -> bool:
    return bool(conn.exists(keys(registry)[0].format(computer_id)))


def clear(conn: redis.Redis, registry, computer_id: int) -> None:
    key, watch = keys(registry)
    pipe = conn.pipeline(transaction=False)
    pipe.delete(key.format(computer_id))
    pipe.srem(watch, computer_id)
    pipe.execute()


def read_all(conn: redis.Redis, registry) -> list[dict]:
    """Every live message (decoded), in one round trip for the ids and one for the hashes."""
    key, watch = keys(registry)
    ids = conn.smembers(watch)
    if not ids:
        return []
    pipe = conn.pipeline(transaction=False)
    for computer_id in ids:
        pipe.hgetall(key.format(int(computer_id)))
    rows = []
    for raw in pipe.execute():
        if raw:
            rows.append({k.decode(): v.decode() for k, v in raw.items()})
    return rows


def on_response(event) -> None:
    """After a successful safe step of a computer, record (or at EOT clear) its message."""
    request = event.request
    path = request.path
    if not path.startswith(SAFE) or event.response.status_code >= 400:
        return
    computer = getattr(getattr(request, "context", None), "computer", None)
    step = path[len(SAFE) :]
    if computer is None or (step != END and step not in STEPS):
        return
    conn = client(request.registry)
    if conn is None:
        return
    try:
        if step == END:
            clear(conn, request.registry, computer.id)
        else:
            record(conn, request.registry, computer, STEPS[step])
    except redis.RedisError as error:
        # Live messages are a courtesy to the admins; a Redis hiccup must not fail a sync.
        log.warning("live message of computer %s not recorded: %s", computer.id, error)


def includeme(config) -> None:
    config.add_subscriber(on_response, NewResponse)
