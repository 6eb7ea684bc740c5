"""The v5 client's message envelope, written from protocol-v5 section 2 with jwcrypto.

Deliberately independent of ``migasfree_pyramid.crypto.envelope``: the golden tests compare the
two, so a bug shared by both would have to be written twice. Reading follows the client's
``unwrap``: failures are not exceptions but the strings ``Invalid Data`` (cannot decrypt or
parse) and ``Invalid Signature`` (signature does not verify), which the client then treats as
data (protocol-v5 1.2 step 4).
"""

from __future__ import annotations

import json
from typing import Any

from jwcrypto import jwe, jwk, jws
from jwcrypto.common import json_encode

INVALID_DATA = "Invalid Data"
INVALID_SIGNATURE = "Invalid Signature"

JWE_HEADER = {"alg": "RSA-OAEP-256", "enc": "A256CBC-HS512", "typ": "JWE"}
JWS_ALG = "RS256"


def load_pem(pem: str | bytes) -> jwk.JWK:
    """A JWK from a PEM as the server hands it out (``migasfree-server.pub`` etc.)."""
    return jwk.JWK.from_pem(pem.encode() if isinstance(pem, str) else pem)


def payload_of(data: Any) -> str:
    """What gets signed: ``json.dumps`` for a dict, ``str()`` (Python repr) for the rest."""
    return json.dumps(data) if isinstance(data, dict) else str(data)


def sign(data: Any, key: jwk.JWK) -> str:
    """JWS flattened JSON with only an unprotected header ``{"alg": "RS256", "kid": ...}``."""
    token = jws.JWS(payload_of(data).encode("utf-8"))
    token.add_signature(key, None, None, json_encode({"alg": JWS_ALG, "kid": key.thumbprint()}))
    return token.serialize()


def encrypt(plaintext: str, key: jwk.JWK) -> str:
    """JWE flattened JSON, protected header ``{alg, enc, typ, kid}`` (recipient thumbprint)."""
    token = jwe.JWE(plaintext.encode("utf-8"), json_encode({**JWE_HEADER, "kid": key.thumbprint()}))
    token.add_recipient(key)
    return token.serialize()


def wrap(data: Any, sign_key: jwk.JWK, encrypt_key: jwk.JWK) -> str:
    """The ``msg`` string: plaintext ``{"data": data, "sign": JWS}`` encrypted to the peer."""
    return encrypt(json.dumps({"data": data, "sign": sign(data, sign_key)}), encrypt_key)


def decrypt(message: str, key: jwk.JWK) -> dict:
    """The JWE plaintext as a dict; raises on any failure (the caller maps it to a string)."""
    token = jwe.JWE()
    token.deserialize(message, key=key)
    plaintext = json.loads(token.payload)
    if not isinstance(plaintext, dict):
        raise ValueError("plaintext is not an object")
    return plaintext


def verify(signature: str, key: jwk.JWK) -> str:
    """The verified JWS payload as text; raises when the signature does not verify."""
    token = jws.JWS()
    token.deserialize(signature)
    token.verify(key)
    return token.payload.decode("utf-8")


def open_message(message: Any, decrypt_key: jwk.JWK, verify_key: jwk.JWK, check_payload=False):
    """``(value, failure)``: ``failure`` is None, ``Invalid Data`` or ``Invalid Signature``
    (then ``value`` is that same string, as the client's ``unwrap`` returns it)."""
    try:
        plaintext = decrypt(message, decrypt_key)
        data, signature = plaintext["data"], plaintext["sign"]
    except Exception:  # the client maps every failure to this string
        return INVALID_DATA, INVALID_DATA
    try:
        payload = verify(signature, verify_key)
    except Exception:
        return INVALID_SIGNATURE, INVALID_SIGNATURE
    if check_payload and not _same(payload, data):
        return INVALID_SIGNATURE, INVALID_SIGNATURE
    if not payload:
        return None, None
    return data, None


def unwrap(message: Any, decrypt_key: jwk.JWK, verify_key: jwk.JWK, check_payload: bool = False):
    """``data`` of a ``msg`` string, or ``Invalid Data`` / ``Invalid Signature`` as the client.

    The real client never compares ``data`` with what was signed; ``check_payload=True`` adds
    that check (a mismatch reads as ``Invalid Signature``) so tests notice a server that signs
    one thing and sends another. An empty signed payload gives ``None``, as the client does.
    """
    return open_message(message, decrypt_key, verify_key, check_payload)[0]


def _same(payload: str, data: Any) -> bool:
    if isinstance(data, dict):
        try:
            return json.loads(payload) == data
        except ValueError:
            return False
    return payload == str(data)
