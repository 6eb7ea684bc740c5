"""How a safe sync endpoint is declared: a Cornice service on the computer named by the claims,
a POST view with the agent's sync permission, and the mTLS check of the uploads."""

from __future__ import annotations

import re

from cornice import Service

from .safe import AgentPermission, ComputerContext, SafeError

CN_PATTERN = re.compile(r"/CN=([^/]+)")


def check_mtls(request, computer) -> None:
    """With mTLS in front (``X-SSL-Client-CN``), the certificate's uuid must be this computer's."""
    header = request.headers.get("X-SSL-Client-CN")
    if header is None:
        return
    match = CN_PATTERN.search(header)
    if match is None or "_" not in match.group(1):
        raise SafeError(403, "Invalid mTLS certificate CN format", wrapped=False)
    uuid = match.group(1).rsplit("_", 1)[0]
    if (computer.uuid or "").lower() != uuid.lower():
        raise SafeError(
            403, "mTLS certificate does not match the requesting computer", wrapped=False
        )


def service(name: str, path: str) -> Service:
    return Service(name=f"safe.{name}", path=f"/api/v1/safe/{path}", factory=ComputerContext)


def computer_post(svc: Service, mtls: bool = False):
    """Register ``func(request, computer, claims)`` as the service's POST view."""

    def decorate(func):
        def view(request):
            context = request.context
            if mtls:
                check_mtls(request, context.computer)
            return func(request, context.computer, context.claims)

        svc.add_view("POST", view, permission=AgentPermission.SYNC)
        return func

    return decorate
