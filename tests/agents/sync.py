"""``migasfree sync`` as the v5 client runs it (protocol-v5 section 5), on a ``V5Agent``.

Local work (running property code, the package manager, lshw) is replaced by values the test
passes in; every network call, its order, its skip conditions and the client's reaction to an
error (carry on, or exit with an errno) follow the spec's table.
"""

from __future__ import annotations

import datetime as dt
import difflib
import errno
import ipaddress

from .v5 import Call, ClientExit, error_code, is_error

DEVICES_UNMANAGED = "Assigned device(s) but client does not manage devices"
DEFAULT_INVENTORY = ("bash_5.2.15-2+b2_amd64.deb", "migasfree-client_5.0-1_all.deb")


def _diff(before: list[str], after: list[str]) -> list[str]:
    """Changed lines with difflib's markers, in diff order (``+added`` / ``-removed``)."""
    lines = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("delete", "replace"):
            lines += [f"-{name}" for name in before[i1:i2]]
        if tag in ("insert", "replace"):
            lines += [f"+{name}" for name in after[j1:j2]]
    return lines


def software_history(previous, final, start=None) -> dict:
    """The client's ``history``: (previous run's list → start of run) + (start → end), entries
    keeping the ``+``/``-`` marker; ``{}`` when nothing changed (protocol-v5 7.5).

    ``previous`` None means no saved list (first run): only the in-run change counts.
    """
    final = list(final)
    if start is None:
        start = previous if previous is not None else final
    changes = _diff(list(previous), list(start)) if previous is not None else []
    changes += _diff(list(start), final)
    installed = [line for line in changes if line.startswith("+")]
    uninstalled = [line for line in changes if line.startswith("-")]
    if not installed and not uninstalled:
        return {}
    return {"installed": installed, "uninstalled": uninstalled}


def mark_history(history: dict) -> dict:
    """A history of plain names with the client's markers added (kept if already there)."""
    marked = {}
    for key, marker in (("installed", "+"), ("uninstalled", "-")):
        if key in history:
            marked[key] = [n if n.startswith(marker) else marker + n for n in history[key]]
    return marked


def default_attributes(agent, prefix: str) -> str:
    """Raw stdout of the fixture client properties (the client keeps the newline)."""
    if prefix == "HST":
        return f"{agent.name}\n"
    if prefix == "NET":
        return f"{ipaddress.ip_network(f'{agent.ip_address}/24', strict=False)}\n"
    return ""


def default_lshw(agent) -> dict:
    """A small ``lshw -json`` tree: system, board, memory and one CPU."""
    return {
        "id": agent.name,
        "class": "system",
        "claimed": True,
        "description": "Computer",
        "product": "Test Machine",
        "vendor": "migasfree",
        "width": 64,
        "children": [
            {
                "id": "core",
                "class": "bus",
                "claimed": True,
                "description": "Motherboard",
                "physid": "0",
                "children": [
                    {
                        "id": "memory",
                        "class": "memory",
                        "claimed": True,
                        "description": "System Memory",
                        "physid": "1",
                        "units": "bytes",
                        "size": 4294967296,
                    },
                    {
                        "id": "cpu",
                        "class": "processor",
                        "claimed": True,
                        "product": "Test CPU @ 2.00GHz",
                        "vendor": "migasfree",
                        "physid": "2",
                        "width": 64,
                    },
                ],
            }
        ],
    }


class _Run:
    def __init__(self, agent):
        self.agent = agent
        self.first = len(agent.calls)

    @property
    def calls(self) -> list[Call]:
        return self.agent.calls[self.first :]

    def exit(self, code: int, info: str):
        raise ClientExit(code, info, self.calls)

    def check(self, value, http_code: int = errno.EACCES, network_code: int = errno.ENODATA):
        """Exit as the client does when a call it cannot go on without failed."""
        if is_error(value):
            code = http_code if self.agent.last.status is not None else network_code
            self.exit(code, value["error"]["info"])
        return value

    def optional(self, value, empty):
        """404 ⇒ ``empty``; any other error ⇒ exit ENODATA (definitions, repositories...)."""
        code = error_code(value)
        if code == 404:
            return empty
        if code is not None:
            self.exit(errno.ENODATA, value["error"]["info"])
        return value

    def upload_errors(self):
        if self.agent.error_log:
            self.check(self.agent.upload_errors("\n".join(self.agent.error_log)))
            self.agent.error_log.clear()


def _outputs(source, items, key, default):
    """What the client's scripts printed, from a dict (by ``key``) or a callable (by item)."""
    results = {}
    for item in items:
        if callable(source):
            results[item[key]] = source(item)
        elif source is not None and item[key] in source:
            results[item[key]] = source[item[key]]
        else:
            results[item[key]] = default(item[key])
    return results


def run_sync(
    agent,
    attributes=None,
    inventory=None,
    lshw=None,
    faults=None,
    *,
    software_before=None,
    pms_status_ok: bool = True,
    errors=(),
    upload_hardware: bool = True,
    sync_user: str = "user",
    sync_fullname: str = "",
    start_date=None,
) -> list[Call]:
    """Run the 21 steps of protocol-v5 section 5 (mTLS steps excepted) and return their calls.

    ``attributes``/``faults``: script outputs by prefix/definition name (dict or callable);
    ``inventory``: the package list after the PMS steps (``software_before`` the one at
    start); ``lshw``: the parsed ``lshw -json``; ``errors``: lines this run writes to the error
    file. Raises ``ClientExit`` (with ``.calls``) where the real client would exit.
    """
    run = _Run(agent)
    agent.computer_id = None  # a new client process asks for its CID again
    agent.server_info()  # 2; errors ignored
    if not agent.has_keys:  # 3, 4
        registered = agent.register(agent.username, agent.password)
        if is_error(registered) or not agent.has_keys:
            run.exit(errno.EPERM, str(registered))
        if not agent.register_computer():
            run.exit(errno.EPERM, "computer not registered")
    start = start_date or dt.datetime.now()
    agent.get_computer_id()  # 5
    run.upload_errors()  # 6: errors left by an earlier run
    properties = run.check(agent.properties())  # 7
    if not isinstance(properties, list):
        run.exit(1, f"client crash: properties are {properties!r}")
    outputs = _outputs(attributes, properties, "prefix", lambda p: default_attributes(agent, p))
    run.check(agent.upload_attributes(outputs, sync_user, sync_fullname))  # 8
    definitions = run.optional(agent.fault_definitions(), [])  # 9
    if definitions:  # 10: only non-empty outputs are sent
        results = _outputs(faults, definitions, "name", lambda name: "")
        run.check(agent.upload_faults({k: v for k, v in results.items() if v}))
    log = list(errors)
    if agent.pms and agent.pms != "None":  # 11-16
        key = agent.repository_key()
        if not isinstance(key, str):  # the client writes it to a file: TypeError, crash
            run.exit(1, f"client crash: repository key is {key!r}")
        agent.repository_key_text = key
        agent.repository_list = run.optional(agent.repositories(), [])  # 12
        agent.mandatory = run.optional(agent.mandatory_packages(), None)  # 13
        before = agent.inventory if software_before is None else list(software_before)
        final = list(inventory if inventory is not None else agent.inventory or DEFAULT_INVENTORY)
        history = software_history(agent.inventory, final, start=before)
        run.check(agent.upload_software(final, history))  # 14
        if upload_hardware:
            required = run.check(agent.hardware_required(), errno.ENODATA)  # 15
            if isinstance(required, dict) and required.get("capture"):
                value = agent.upload_hardware(lshw if lshw is not None else default_lshw(agent))
                if is_error(value):  # 16: logged to the error file, sync goes on
                    log.append(str(value["error"]["info"]))
    devices = agent.devices()  # 17
    if devices and not is_error(devices):
        log.append(DEVICES_UNMANAGED)
    run.check(agent.traits())  # 18
    if log:  # 19
        agent.error_log.extend(log)
        run.upload_errors()
    run.check(agent.end_synchronization(start, pms_status_ok=pms_status_ok))  # 20
    run.check(agent.eot())  # 21
    return run.calls
