"""External-source deployments (spec repositories.md 3, domain-model B.12): the caching proxy at
``/src/<project slug>/external/<deployment slug>/<resource>`` (``proxy.py``, files in
``cache.py``) and the weekly orphan check (``tasks.py``).

This module holds what both use: the settings and the guarded upstream client. Upstream
addresses are checked when fetching, on every redirect too, and the connection goes to the
address that was checked, not to a second DNS lookup (DNS rebinding). Private, loopback,
link-local, multicast and reserved addresses are refused unless inside
``migasfree.external_allowed_networks``. Only the standard library is used (http.client).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from pyramid.security import NO_PERMISSION_REQUIRED

from .. import __version__
from ..settings import Setting, as_int, as_list, read_settings

ROUTE = "external.source"
CHUNK = 64 * 1024
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = f"migasfree-pyramid/{__version__}"


def as_networks(value) -> tuple:
    """A list of CIDR networks (``10.0.0.0/8 192.168.1.0/24``; host bits are ignored)."""
    networks = []
    if isinstance(value, str):
        value = value.replace(",", " ")
    for item in as_list(value):
        if isinstance(item, ipaddress.IPv4Network | ipaddress.IPv6Network):
            networks.append(item)
            continue
        try:
            networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError as error:
            raise ValueError(f"{item!r} is not a network ({error})") from error
    return tuple(networks)


def as_seconds(value) -> float:
    number = float(str(value).strip())
    if not number > 0:
        raise ValueError("must be a positive number of seconds")
    return number


SETTINGS = (
    Setting(
        "migasfree.external_allowed_networks",
        as_networks,
        (),
        "private networks external sources may reach (internal mirrors), e.g. 10.1.0.0/16",
    ),
    Setting("migasfree.external_connect_timeout", as_seconds, 10.0, "upstream connect timeout"),
    Setting("migasfree.external_read_timeout", as_seconds, 60.0, "upstream read timeout"),
    Setting(
        "migasfree.external_lock_wait",
        as_seconds,
        30.0,
        "seconds a request waits for another one downloading the same file before it streams "
        "the file from upstream without caching it",
    ),
    Setting(
        "migasfree.external_notify_interval",
        as_int(0),
        3600,
        "seconds between notifications about one upstream URL (needs migasfree.redis_url)",
    ),
)


@dataclass(frozen=True)
class ProxySettings:
    public_dir: str
    allowed_networks: tuple
    connect_timeout: float
    read_timeout: float
    lock_wait: float
    notify_interval: int
    redis_url: str

    @classmethod
    def from_settings(cls, settings) -> ProxySettings:
        """Read at each use: tests (and a reloaded config) change the settings in place."""
        return cls(
            public_dir=settings["migasfree.public_dir"],
            allowed_networks=as_networks(settings.get("migasfree.external_allowed_networks", ())),
            connect_timeout=float(settings.get("migasfree.external_connect_timeout", 10.0)),
            read_timeout=float(settings.get("migasfree.external_read_timeout", 60.0)),
            lock_wait=float(settings.get("migasfree.external_lock_wait", 30.0)),
            notify_interval=int(settings.get("migasfree.external_notify_interval", 3600)),
            redis_url=settings.get("migasfree.redis_url") or "",
        )


class Refused(Exception):
    """The URL may not be fetched: not http(s), or its host is not an allowed address."""


class UpstreamError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def address_allowed(address: str, allowed=()) -> bool:
    """May we connect to ``address``? Public unicast addresses, or any inside ``allowed``."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in allowed):
        return True
    if (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_unspecified
        or ip.is_multicast
        or ip.is_reserved
        or not ip.is_global
    ):
        return False
    if ip.version == 6:
        # 6to4 and Teredo addresses carry an IPv4 address that a relay would reach.
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return address_allowed(str(embedded), allowed)
    return True


def resolve(host: str, port: int, allowed=()) -> list[str]:
    """The allowed addresses of ``host`` (``Refused`` when it has none)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise UpstreamError(502, f"cannot resolve {host}: {error}") from error
    addresses = list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))
    usable = [address for address in addresses if address_allowed(address, allowed)]
    if not usable:
        raise Refused(f"{host} resolves to a forbidden address ({', '.join(addresses)})")
    return usable


def _connection(scheme: str, host: str, port: int, addresses: list[str], cfg: ProxySettings):
    if scheme == "https":
        connection = http.client.HTTPSConnection(
            host, port, timeout=cfg.connect_timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(host, port, timeout=cfg.connect_timeout)

    def create_connection(_address, _timeout=None, _source=None):
        # Only the addresses checked above: a second lookup of ``host`` could answer with an
        # internal address (DNS rebinding). Host header and TLS name still use ``host``.
        error: OSError = OSError(f"no address for {host}")
        for address in addresses:
            try:
                sock = socket.create_connection((address, port), cfg.connect_timeout)
            except OSError as exc:
                error = exc
                continue
            sock.settimeout(cfg.read_timeout)
            return sock
        raise error

    connection._create_connection = create_connection
    return connection


class Upstream:
    """An upstream answer (after redirects); ``read`` counts what arrives."""

    def __init__(self, url: str, connection, response: http.client.HTTPResponse):
        self.url = url
        self.connection = connection
        self.response = response
        self.status = response.status
        self.expected = response.length  # None: chunked, or delimited by the connection closing
        # Chunked bodies end with an explicit marker, so their truncation raises IncompleteRead.
        self.verifiable = self.expected is not None or bool(response.chunked)
        self.received = 0

    def header(self, name: str) -> str | None:
        return self.response.getheader(name)

    def read(self, size: int = CHUNK) -> bytes:
        try:
            chunk = self.response.read(size)
        except TimeoutError as error:
            raise UpstreamError(504, "timed out reading from upstream") from error
        except (OSError, http.client.HTTPException) as error:
            raise UpstreamError(502, f"reading from upstream failed: {error!r}") from error
        self.received += len(chunk)
        return chunk

    def check_complete(self) -> None:
        if self.expected is not None and self.received != self.expected:
            raise UpstreamError(502, f"upstream sent {self.received} of {self.expected} bytes")

    def close(self) -> None:
        self.response.close()
        self.connection.close()


def open_url(url: str, method: str, cfg: ProxySettings) -> Upstream:
    """Send ``method`` to ``url``, following up to MAX_REDIRECTS redirects (each re-checked)."""
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Refused(f"only http and https URLs may be fetched: {url}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as error:
            raise Refused(f"bad port in {url}") from error
        addresses = resolve(parts.hostname, port, cfg.allowed_networks)
        connection = _connection(parts.scheme, parts.hostname, port, addresses, cfg)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request(method, target, headers={"User-Agent": USER_AGENT})
            response = connection.getresponse()
        except TimeoutError as error:
            connection.close()
            raise UpstreamError(504, f"timed out: {error}") from error
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise UpstreamError(502, f"request failed: {error!r}") from error
        location = response.getheader("Location")
        if response.status in REDIRECTS and location:
            response.close()
            connection.close()
            url = urljoin(url, location)
            continue
        return Upstream(url, connection, response)
    raise UpstreamError(502, f"more than {MAX_REDIRECTS} redirects")


def upstream_url(base_url: str | None, resource: str) -> str:
    return f"{(base_url or '').rstrip('/')}/{resource}"


def includeme(config) -> None:
    settings = config.get_settings()
    settings.update(read_settings(settings, SETTINGS))

    from . import proxy, tasks  # noqa: F401 (tasks registers the weekly periodic task)

    # No authentication: the clients' package managers fetch these files.
    config.add_route(ROUTE, "/src/{project}/external/{deployment}/*resource")
    config.add_view(
        proxy.source_file_view,
        route_name=ROUTE,
        request_method=("GET", "HEAD"),
        permission=NO_PERMISSION_REQUIRED,
    )
