"""Where a request comes from, as the original computes it (``X-Forwarded-For`` first)."""

from __future__ import annotations

import ipaddress


def _valid_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """First ``X-Forwarded-For`` entry when it is an IP address, else the peer address.

    Only trustworthy behind a proxy that sets the header; it is recorded, never used to decide.
    """
    forwarded = request.headers.get("X-Forwarded-For", "")
    return _valid_ip(forwarded.split(",")[0]) or _valid_ip(request.remote_addr)
