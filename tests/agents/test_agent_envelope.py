"""Golden tests of the agent's envelope (protocol-v5 section 2) against raw jwcrypto and the
server's own envelope code, and of how the agent reads answers (protocol-v5 1.2)."""

from __future__ import annotations

import base64
import http.server
import json
import socket
import threading

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from jwcrypto import jwe, jwk
from jwcrypto.common import json_encode
from webob import Request

from migasfree_pyramid.crypto.envelope import EnvelopeError
from migasfree_pyramid.crypto.envelope import unwrap as server_unwrap
from migasfree_pyramid.crypto.envelope import wrap as server_wrap
from tests.agents import secure
from tests.agents.sync import mark_history, software_history
from tests.agents.transport import HttpTransport, Reply, Transport, TransportError
from tests.agents.v5 import ClientExit, V5Agent

SAMPLES = [{"id": 7, "name": "PC-ü"}, [{"name": "x"}], 7, "EOT OK", {"capture": True}, []]


@pytest.fixture(scope="module")
def keys():
    return {name: jwk.JWK.generate(kty="RSA", size=2048) for name in ("server", "project", "other")}


def b64decode(text: str) -> bytes:
    assert "=" not in text  # base64url without padding
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_decrypt(message: str, key) -> bytes:
    token = jwe.JWE()
    token.deserialize(message, key=key)
    return token.payload


def reencrypt(plaintext: dict, key) -> str:
    """A JWE with the agent's exact header around an arbitrary plaintext."""
    header = {**secure.JWE_HEADER, "kid": key.thumbprint()}
    token = jwe.JWE(json.dumps(plaintext).encode(), json_encode(header))
    token.add_recipient(key)
    return token.serialize()


# -- interoperability with the server's envelope ---------------------------------------------


@pytest.mark.parametrize("data", SAMPLES)
def test_server_accepts_the_agent_message(keys, data):
    message = secure.wrap(data, keys["project"], keys["server"])
    assert server_unwrap(message, keys["server"], keys["project"]) == data


@pytest.mark.parametrize("data", SAMPLES)
def test_agent_reads_the_server_reply(keys, data):
    message = server_wrap(data, keys["server"], keys["project"])
    assert secure.unwrap(message, keys["project"], keys["server"], check_payload=True) == data


def test_empty_signed_payload_reads_as_none(keys):
    """The client's ``unwrap`` returns None when what was signed is empty."""
    message = server_wrap("", keys["server"], keys["project"])
    assert secure.unwrap(message, keys["project"], keys["server"]) is None


# -- byte-level format --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "payload"),
    [
        ({"id": 7, "uuid": "A-B"}, b'{"id": 7, "uuid": "A-B"}'),
        ([{"name": "x"}], b"[{'name': 'x'}]"),  # str() of a list: Python repr, single quotes
        (7, b"7"),
        ("EOT OK", b"EOT OK"),
        (True, b"True"),
    ],
)
def test_agent_message_layout(keys, data, payload):
    message = secure.wrap(data, keys["project"], keys["server"])
    outer = json.loads(message)
    assert set(outer) == {"protected", "encrypted_key", "iv", "ciphertext", "tag"}
    expected_header = (
        '{"alg":"RSA-OAEP-256","enc":"A256CBC-HS512",'
        f'"kid":"{keys["server"].thumbprint()}","typ":"JWE"}}'
    )
    assert b64decode(outer["protected"]) == expected_header.encode()
    assert len(b64decode(outer["encrypted_key"])) == 256  # RSA 2048
    assert len(b64decode(outer["iv"])) == 16
    assert len(b64decode(outer["tag"])) == 32  # A256CBC-HS512: half of the HMAC-SHA512

    plaintext = raw_decrypt(message, keys["server"])
    inner = json.loads(plaintext)
    assert list(inner) == ["data", "sign"]
    assert inner["data"] == data
    assert plaintext == json.dumps({"data": data, "sign": inner["sign"]}).encode()

    signature = json.loads(inner["sign"])
    assert set(signature) == {"header", "payload", "signature"}  # no "protected" member
    assert signature["header"] == {"alg": "RS256", "kid": keys["project"].thumbprint()}
    assert b64decode(signature["payload"]) == payload
    # RS256 over "." + base64url(payload): the signing input of an empty protected header.
    public = keys["project"].get_op_key("verify")
    public.verify(
        b64decode(signature["signature"]),
        b"." + signature["payload"].encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


def test_agent_and_server_emit_the_same_headers(keys):
    agent = json.loads(secure.wrap({"id": 1}, keys["server"], keys["project"]))
    server = json.loads(server_wrap({"id": 1}, keys["server"], keys["project"]))
    assert agent["protected"] == server["protected"]
    assert set(agent) == set(server)
    agent_sign = json.loads(json.loads(raw_decrypt(json.dumps(agent), keys["project"]))["sign"])
    server_sign = json.loads(json.loads(raw_decrypt(json.dumps(server), keys["project"]))["sign"])
    # RSASSA-PKCS1-v1_5 is deterministic: same key and payload give the same bytes.
    assert agent_sign == server_sign


def test_pem_keys_load_like_the_client_files(keys):
    pem = keys["server"].export_to_pem().decode()
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert secure.load_pem(pem).thumbprint() == keys["server"].thumbprint()


# -- tampering: reported as the client reports it ------------------------------------------


def test_flipped_ciphertext_byte_is_invalid_data(keys):
    outer = json.loads(server_wrap({"id": 1}, keys["server"], keys["project"]))
    raw = bytearray(b64decode(outer["ciphertext"]))
    raw[5] ^= 0x01
    outer["ciphertext"] = b64encode(bytes(raw))
    message = json.dumps(outer)
    assert secure.unwrap(message, keys["project"], keys["server"]) == secure.INVALID_DATA


def test_reply_signed_by_another_key_is_invalid_signature(keys):
    message = server_wrap({"id": 1}, keys["other"], keys["project"])
    assert secure.unwrap(message, keys["project"], keys["server"]) == secure.INVALID_SIGNATURE


def test_reply_for_another_recipient_is_invalid_data(keys):
    message = server_wrap({"id": 1}, keys["server"], keys["other"])
    assert secure.unwrap(message, keys["project"], keys["server"]) == secure.INVALID_DATA


@pytest.mark.parametrize("message", ["", "not a jwe", '{"protected": "x"}', None, 7])
def test_garbage_is_invalid_data(keys, message):
    assert secure.unwrap(message, keys["project"], keys["server"]) == secure.INVALID_DATA


def test_swapped_data_is_caught(keys):
    """``data`` replaced beside a valid signature: the agent (check_payload, its default) and
    the server refuse it; the real client would not notice (it never compares the two)."""
    genuine = json.loads(
        raw_decrypt(server_wrap({"id": 1}, keys["server"], keys["project"]), keys["project"])
    )
    forged = reencrypt({"data": {"id": 2}, "sign": genuine["sign"]}, keys["project"])
    assert secure.unwrap(forged, keys["project"], keys["server"], check_payload=True) == (
        secure.INVALID_SIGNATURE
    )
    assert secure.unwrap(forged, keys["project"], keys["server"]) == {"id": 2}

    plaintext = json.loads(
        raw_decrypt(secure.wrap([1], keys["project"], keys["server"]), keys["server"])
    )
    forged = reencrypt({"data": [2], "sign": plaintext["sign"]}, keys["server"])
    with pytest.raises(EnvelopeError, match="Invalid Signature"):
        server_unwrap(forged, keys["server"], keys["project"])


# -- the agent reading answers (protocol-v5 1.2) -------------------------------------------


class CannedTransport(Transport):
    """Answers every request with the next canned reply; keeps what was sent."""

    def __init__(self, *replies):
        self.replies = list(replies)
        self.sent = []

    def send(self, method, path, body, content_type, headers):
        self.sent.append((method, path, body, content_type, headers))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


def json_reply(status, body, content_type="application/json"):
    return Reply(status, content_type, json.dumps(body).encode())


@pytest.fixture
def make_agent(keys):
    def factory(*replies):
        agent = V5Agent(CannedTransport(*replies), "Project X", "UUID-1", "PC1")
        agent.keys = {
            "server.pub": keys["server"].export_to_pem().decode(),
            "Project X.pri": keys["project"]
            .export_to_pem(private_key=True, password=None)
            .decode(),
        }
        agent.computer_id = 7
        return agent

    return factory


def test_agent_request_is_the_client_envelope(make_agent, keys):
    agent = make_agent(
        json_reply(200, {"msg": server_wrap("EOT OK", keys["server"], keys["project"])})
    )
    assert agent.eot() == "EOT OK"
    method, path, body, content_type, headers = agent.transport.sent[0]
    assert (method, path, content_type) == ("POST", "/api/v1/safe/eot/", "application/json")
    envelope = json.loads(body)
    assert list(envelope) == ["msg", "project"] and envelope["project"] == "Project X"
    assert server_unwrap(envelope["msg"], keys["server"], keys["project"]) == {"id": 7}
    assert headers["User-Agent"].startswith("migasfree-client/5.0")
    assert agent.last.status == 200 and agent.last.sent == {"id": 7}


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        (json_reply(200, {"detail": "x"}), "x"),
        (json_reply(201, {"a": 1}), {"a": 1}),
        (json_reply(200, [1, 2]), [1, 2]),
        (json_reply(200, "text"), "text"),
        (
            json_reply(404, {"detail": "No Computer matches the given query."}),
            {"error": {"info": "No Computer matches the given query.", "code": 404}},
        ),
        (
            json_reply(400, {"status": "error", "errors": []}),
            {"error": {"info": "{'status': 'error', 'errors': []}", "code": 400}},
        ),
        (
            Reply(500, "text/html", b"<h1>Server Error</h1>"),
            {"error": {"info": "<h1>Server Error</h1>", "code": 500}},
        ),
        (json_reply(204, {}), {"error": {"info": "{}", "code": 204}}),
        (TransportError(111, "refused"), {"error": {"info": "refused", "code": 111}}),
    ],
)
def test_answers_become_client_values(make_agent, reply, value):
    agent = make_agent(reply)
    assert agent.properties() == value


def test_wrapped_error_is_decrypted_into_info(make_agent, keys):
    message = server_wrap("Unsubscribed computer", keys["server"], keys["project"])
    agent = make_agent(json_reply(403, {"msg": message}))
    agent.computer_id = None

    with pytest.raises(ClientExit) as exc:
        agent.get_computer_id()
    assert exc.value.code == 61
    assert agent.last.value == {"error": {"info": "Unsubscribed computer", "code": 403}}


def test_tampered_reply_is_recorded_like_the_client(make_agent, keys):
    agent = make_agent(
        json_reply(200, {"msg": server_wrap([1], keys["other"], keys["project"])}),
        json_reply(200, {"msg": server_wrap([1], keys["server"], keys["other"])}),
    )
    assert agent.traits() == "Invalid Signature"
    assert agent.traits() == "Invalid Data"
    assert agent.envelope_errors == [
        ("/api/v1/safe/computers/traits/", "Invalid Signature"),
        ("/api/v1/safe/computers/traits/", "Invalid Data"),
    ]


def test_public_form_and_multipart_encoding(make_agent, keys):
    agent = make_agent(json_reply(200, {"version": "5.0"}), json_reply(200, {"msg": "x"}))
    agent.keys["packager.pri"] = agent.keys["Project X.pri"]
    assert agent.server_info() == {"version": "5.0"}
    agent.upload_package("main", "hello_1.0_all.deb", b"\x00DEB")
    (_, _, body, content_type, _), upload = agent.transport.sent
    assert body == b"" and content_type is None  # requests.post() without data
    request = Request.blank("/", method="POST", body=upload[2], content_type=upload[3])
    assert request.POST["project"] == "Project X"
    assert request.POST["file"].filename == "/tmp/migasfree-agent/hello_1.0_all.deb"
    assert request.POST["file"].value == b"\x00DEB"
    claims = server_unwrap(request.POST["msg"], keys["server"], keys["project"])
    assert claims == {"project": "Project X", "store": "main", "is_package": True}


def test_software_history_keeps_the_diff_markers():
    assert software_history(None, ["a_1_all.deb"]) == {}
    history = software_history(["a_1_all.deb", "b_1_all.deb"], ["a_1_all.deb", "c_1_all.deb"])
    assert history == {"installed": ["+c_1_all.deb"], "uninstalled": ["-b_1_all.deb"]}
    assert mark_history({"installed": ["x"], "uninstalled": ["-y"]}) == {
        "installed": ["+x"],
        "uninstalled": ["-y"],
    }


# -- real HTTP transport (for the benchmark) ------------------------------------------------


@pytest.fixture
def echo_server():
    """A tiny HTTP server answering every request with what it received, as JSON."""

    class Echo(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.dumps(
                {
                    "method": self.command,
                    "path": self.path,
                    "type": self.headers.get("Content-Type"),
                    "body": self.rfile.read(length).decode(),
                }
            ).encode()
            self.send_response(200 if self.path.endswith("/ok/") else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_transport_speaks_like_requests(echo_server):
    transport = HttpTransport(echo_server)
    reply = transport.post_form("/api/v1/public/ok/", {"project": "a b", "pms": "apt"})
    assert reply.status == 200 and reply.content_type == "application/json"
    echoed = json.loads(reply.body)
    assert echoed["type"] == "application/x-www-form-urlencoded"
    assert echoed["body"] == "project=a+b&pms=apt"
    reply = transport.post_json("/x/ok/", {"msg": "m", "project": "p"})  # same connection
    assert json.loads(json.loads(reply.body)["body"]) == {"msg": "m", "project": "p"}
    assert transport.get("/missing/").status == 404
    transport.close()


def test_http_transport_network_errors_become_client_errors():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    agent = V5Agent(HttpTransport(f"http://127.0.0.1:{port}", timeout=5), "P", "U", "N")
    assert agent.server_info() == {
        "error": {"info": agent.last.value["error"]["info"], "code": 111}
    }
    assert agent.last.status is None
