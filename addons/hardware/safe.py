"""Safe hardware endpoints of the v5 protocol (protocol-v5 6.2, 7.6; spec B.16): the upload,
and the answer of the clients addon's ``computers/hardware/required/``.

Unlike the original, which deleted the tree in the request and refreshed the summary before its
task had re-inserted anything (repositories.md Q14), a capture is replaced in one transaction:
here for ordinary trees, in a background task for trees over ``hardware.sync_node_limit``.
"""

from __future__ import annotations

from cornice import Service

from migasfree_addons.clients.safe import (
    AgentPermission,
    ComputerContext,
    SafeError,
    reply,
)
from migasfree_pyramid.models.meta import utcnow

from .capture import MALFORMED, HardwareError, Limits, capture_required, flatten, store_hardware
from .tasks import store_hardware_task

DATA_RECEIVED = "Data received"

hardware = Service(
    name="safe.computers-hardware",
    path="/api/v1/safe/computers/hardware/",
    factory=ComputerContext,
)


def hardware_capture_required(request, computer) -> bool:
    """The answer of ``computers/hardware/required/`` (a clients addon route): no capture yet,
    or the last one is older than the period."""
    return capture_required(computer, request.registry.settings["clients.hardware_period_days"])


@hardware.post(permission=AgentPermission.SYNC)
def post_hardware(request):
    """Claims ``{id, hardware}``: the output of ``lshw -json`` (an object or a list)."""
    claims = request.context.claims
    if "hardware" not in claims:
        raise SafeError(400, MALFORMED)
    settings = request.registry.settings
    try:
        nodes = flatten(claims["hardware"], Limits.from_settings(settings))
    except HardwareError as error:
        raise SafeError(400, error.message) from None
    computer = request.context.computer
    if len(nodes) > settings["hardware.sync_node_limit"]:
        received_at = utcnow().isoformat()
        request.enqueue(store_hardware_task, computer.id, nodes[0].data, received_at)
    else:
        store_hardware(request.dbsession, computer, claims["hardware"], nodes=nodes)
    return reply(request, DATA_RECEIVED)


def includeme(config) -> None:
    config.registry["migasfree.hardware_capture_required"] = hardware_capture_required
    config.add_cornice_service(hardware)
