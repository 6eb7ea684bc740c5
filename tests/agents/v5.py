"""A v5 migasfree client for tests and benchmarks, written from protocol-v5 (not the server).

``V5Agent`` holds one computer's state (keys as PEM text, computer id, error file, last
inventory) and has one method per call of protocol-v5 sections 5 and 6. Each method returns
the value the real client's ``UrlRequest.run`` would return (1.2): the decrypted ``data`` of a
safe reply, the JSON of a public one, ``{"error": {"info": ..., "code": ...}}`` for an HTTP or
network error. Every call is also recorded as a ``Call`` in ``agent.calls``.

Where the real client would stop (exit codes of sections 4 to 6), ``sync`` raises
``ClientExit``; the single-call methods never exit, so tests can look at any answer, except
``get_computer_id``, whose 404 fallback and exit are part of what it is.
"""

from __future__ import annotations

import errno
import posixpath
from typing import Any

from .base import OK_STATUSES, BaseAgent, Call, ClientExit, error_code, is_error
from .transport import UploadFile

__all__ = ["OK_STATUSES", "Call", "ClientExit", "V5Agent", "error_code", "is_error"]

UPLOAD_DIR = "/tmp/migasfree-agent"


class V5Agent(BaseAgent):
    """A v5 client: one method per call of protocol-v5 sections 5 and 6 (see ``BaseAgent``
    for the constructor, the agent's state and the low-level ``public``/``safe`` calls)."""

    # -- public calls (6.1, 3.3-3.5) ----------------------------------------------------

    def server_info(self, method: str = "POST") -> Any:
        self.server = self.public("server/info/", method=method)
        return self.server

    def _key_form(self, username: str, password: str) -> dict:
        return {
            "username": username,
            "password": password,
            "project": self.project,
            "platform": self.platform,
            "pms": str(self.pms),
            "architecture": self.architecture,
        }

    def register(self, username: str = "", password: str = "") -> Any:
        """``keys/project/``; on success keeps ``server.pub`` and ``<Project>.pri``."""
        value = self.public("keys/project/", self._key_form(username, password))
        renames = {
            "migasfree-server.pub": "server.pub",
            "migasfree-client.pri": self.private_key_name,
        }
        self._save_keys(value, renames)
        return value

    def packager_register(self, username: str, password: str) -> Any:
        """``keys/packager/``; on success keeps ``server.pub`` and ``packager.pri``."""
        value = self.public("keys/packager/", self._key_form(username, password))
        renames = {"migasfree-server.pub": "server.pub", "migasfree-packager.pri": "packager.pri"}
        self._save_keys(value, renames)
        return value

    def repository_key(self, method: str = "POST") -> Any:
        return self.public("keys/repositories/", method=method)

    # -- computer identity (4.2, 4.3) ---------------------------------------------------

    def save_computer(self) -> Any:
        """``computers/`` with the agent's identity; the reply value (serializer or error)."""
        claims = {
            "uuid": self.uuid,
            "name": self.name,
            "ip_address": self.ip_address,
            "username": self.username,
            "password": self.password,
        }
        return self.safe("computers/", claims)

    def register_computer(self) -> int:
        """``computers/`` with the client's reactions: the new id, or 0, or ``ClientExit``."""
        value = self.save_computer()
        code = error_code(value)
        if code == 401:
            info = f"{value['error']['info']} (You must register the computer with a valid user)"
            raise ClientExit(errno.EPERM, info)
        if code == 404:
            raise ClientExit(errno.ENODATA, value["error"]["info"])
        return value.get("id", 0) if isinstance(value, dict) and code is None else 0

    def get_computer_id(self) -> Any:
        """The CID, cached; ``computers/id/``, its 404 falls back to ``computers/`` (4.2)."""
        if self.computer_id is not None:
            return self.computer_id
        value = self.safe("computers/id/", {"uuid": self.uuid, "name": self.name})
        code = error_code(value)
        if code == 404:
            value = self.register_computer()
        elif code is not None:
            info = f"{value['error']['info']} (Review keys or register computer again)"
            raise ClientExit(errno.ENODATA, info)
        self.computer_id = value
        return value

    def _by_id(self, path: str, **claims) -> Any:
        return self.safe(path, {"id": self.get_computer_id(), **claims})

    # -- safe sync calls (6.2, 6.3) -------------------------------------------------------

    def upload_errors(self, description: str) -> Any:
        return self._by_id("computers/errors/", description=description)

    def properties(self) -> Any:
        return self._by_id("computers/properties/")

    def upload_attributes(
        self, sync_attributes: dict, sync_user: str = "user", sync_fullname: str = ""
    ) -> Any:
        return self._by_id(
            "computers/attributes/",
            uuid=self.uuid,
            name=self.name,
            fqdn=self.fqdn,
            ip_address=self.ip_address,
            sync_user=sync_user,
            sync_fullname=sync_fullname,
            sync_attributes=sync_attributes,
        )

    def fault_definitions(self) -> Any:
        return self._by_id("computers/faults/definitions/")

    def upload_faults(self, faults: dict) -> Any:
        return self._by_id("computers/faults/", faults=faults)

    def repositories(self) -> Any:
        return self._by_id("computers/repositories/")

    def mandatory_packages(self) -> Any:
        return self._by_id("computers/packages/mandatory/")

    def upload_software(self, inventory: list[str], history: dict | None = None) -> Any:
        """``software/``. ``history`` None: the client's diff against the last inventory;
        a dict of plain names gets the client's ``+``/``-`` markers (protocol-v5 7.5)."""
        from .sync import mark_history, software_history

        if history is None:
            history = software_history(self.inventory, inventory)
        else:
            history = mark_history(history)
        value = self._by_id("computers/software/", inventory=inventory, history=history)
        self.inventory = list(inventory)
        return value

    def hardware_required(self) -> Any:
        return self._by_id("computers/hardware/required/")

    def upload_hardware(self, lshw) -> Any:
        return self._by_id("computers/hardware/", hardware=lshw)

    def devices(self) -> Any:
        return self._by_id("computers/devices/")

    def traits(self) -> Any:
        return self._by_id("computers/traits/")

    def end_synchronization(
        self, start_date, consumer: str | None = None, pms_status_ok: bool = True
    ) -> Any:
        """``synchronizations/``; ``start_date`` a datetime (sent naive local with µs) or text."""
        if not isinstance(start_date, str):
            if start_date.tzinfo is not None:
                start_date = start_date.astimezone().replace(tzinfo=None)
            start_date = start_date.isoformat(timespec="microseconds")
        return self.safe(
            "synchronizations/",
            {
                "id": self.get_computer_id(),
                "start_date": start_date,
                "consumer": self.consumer if consumer is None else consumer,
                "pms_status_ok": pms_status_ok,
            },
        )

    def eot(self) -> Any:
        return self._by_id("eot/")

    def label(self) -> Any:
        return self._by_id("computers/label/")

    def tags_assigned(self) -> Any:
        return self._by_id("computers/tags/assigned/")

    def tags_available(self) -> Any:
        return self._by_id("computers/tags/available/")

    def set_tags(self, tags: list[str]) -> Any:
        return self._by_id("computers/tags/", tags=list(tags))

    def sync(self, **options) -> list[Call]:
        """A whole ``migasfree sync`` (protocol-v5 5); see ``tests.agents.sync.run_sync``."""
        from .sync import run_sync

        return run_sync(self, **options)

    # -- packager (6.4) -----------------------------------------------------------------

    @staticmethod
    def _absolute(*parts: str) -> str:
        path = posixpath.join(*parts)
        return path if path.startswith("/") else posixpath.join(UPLOAD_DIR, path)

    def upload_package(
        self,
        store: str,
        filename: str,
        data: bytes,
        is_package: bool = True,
        *,
        project: str | None = None,
        content_type: str = "application/vnd.debian.binary-package",
    ) -> Any:
        """``packages/``: multipart ``msg``, ``project``, ``file`` (absolute path as name)."""
        claims = {"project": project or self.project, "store": store, "is_package": is_package}
        upload = UploadFile("file", self._absolute(filename), data, content_type)
        return self._upload("packages/", claims, upload)

    def upload_set(
        self,
        store: str,
        packageset: str,
        path: str,
        filename: str,
        data: bytes,
        *,
        project: str | None = None,
        content_type: str = "application/vnd.debian.binary-package",
    ) -> Any:
        """``packages/set/``: one file of a directory upload (``path`` relative to the set)."""
        claims = {
            "project": project or self.project,
            "store": store,
            "packageset": packageset,
            "path": path,
        }
        upload = UploadFile("file", self._absolute(packageset, path, filename), data, content_type)
        return self._upload("packages/set/", claims, upload)

    def create_repository(self, packageset: str, *, project: str | None = None) -> Any:
        """``packages/repos/`` (JSON envelope signed with the packager key)."""
        claims = {"project": project or self.project, "packageset": packageset}
        return self.safe(
            "packages/repos/",
            claims,
            sign_key=self.key("packager.pri"),
            keypair=self._packager_keys(),
        )
