"""Protocol-faithful simulated clients (v5) for the tests and the benchmark.

``V5Agent`` talks to the server like migasfree-client 5.0 (protocol-v5), through a
``webtest.TestApp`` or a real HTTP ``HttpTransport``. It is written from the spec, not from the
server's code, so the tests check the server against the protocol rather than against itself.
"""

from .secure import INVALID_DATA, INVALID_SIGNATURE
from .transport import HttpTransport, Reply, Transport, TransportError, UploadFile, WebTestTransport
from .v5 import OK_STATUSES, Call, ClientExit, V5Agent, error_code, is_error

__all__ = [
    "INVALID_DATA",
    "INVALID_SIGNATURE",
    "OK_STATUSES",
    "Call",
    "ClientExit",
    "HttpTransport",
    "Reply",
    "Transport",
    "TransportError",
    "UploadFile",
    "V5Agent",
    "WebTestTransport",
    "error_code",
    "is_error",
]
