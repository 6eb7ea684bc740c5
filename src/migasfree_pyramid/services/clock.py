"""The server's calendar: deployment dates are days in ``migasfree.timezone``."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def zone(settings) -> ZoneInfo:
    return ZoneInfo(settings.get("migasfree.timezone", "UTC"))


def today(settings) -> dt.date:
    return dt.datetime.now(zone(settings)).date()


def local_to_utc(value: dt.datetime, settings) -> dt.datetime:
    """A naive local timestamp (what clients send) as an aware UTC one."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(settings))
    return value.astimezone(dt.UTC)
