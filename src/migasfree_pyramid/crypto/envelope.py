"""The v5 message envelope: a JWS (RS256, unprotected header) inside a JWE (RSA-OAEP-256 +
A256CBC-HS512), both in jwcrypto's flattened JSON serialization (protocol-v5 section 2).

The real client builds exactly this with jwcrypto, so we use jwcrypto too and emit the same
headers. One improvement over the original: after the signature verifies, the signed payload must
match the ``data`` that travels beside it in the JWE plaintext. The original trusted ``data``
without looking at what was signed, so a signed message could carry other data.
"""

from __future__ import annotations

import json
from typing import Any

from jwcrypto import common, jwe, jwk, jws
from jwcrypto.common import JWException, json_encode

JWE_ALG = "RSA-OAEP-256"
JWE_ENC = "A256CBC-HS512"
JWS_ALG = "RS256"


class _HeaderRegistry(common.JWSEHeaderRegistry):
    """jwcrypto's header registry, copied shallowly.

    jwcrypto gives every JWE and JWS object its own registry with ``copy.deepcopy`` of a dict of
    named tuples (str, bool, function): about 0.1 ms per object, four objects per request, as
    much as an RSA operation. The values are immutable, so a shallow copy is the same registry
    (each object still gets its own dict). Installed for jwcrypto's ``jwe`` and ``jws``, the only
    users of the class; nothing else changes.
    """

    def __init__(self, init_registry=None):
        if init_registry is not None and not isinstance(init_registry, dict):
            super().__init__(init_registry)  # jwcrypto's own error
            return
        self._registry = dict(init_registry or {})


if getattr(jwe, "JWSEHeaderRegistry", None) is common.JWSEHeaderRegistry:
    jwe.JWSEHeaderRegistry = _HeaderRegistry
if getattr(jws, "JWSEHeaderRegistry", None) is common.JWSEHeaderRegistry:
    jws.JWSEHeaderRegistry = _HeaderRegistry


class EnvelopeError(ValueError):
    """The message cannot be decrypted, parsed or verified (the caller answers 4xx)."""


def signed_payload(data: Any) -> str:
    """What the client signs: ``json.dumps`` for a dict, ``str()`` for anything else."""
    return json.dumps(data) if isinstance(data, dict) else str(data)


def sign(data: Any, private_key: jwk.JWK) -> str:
    token = jws.JWS(signed_payload(data).encode())
    # Unprotected header only: the signing input is "." + base64url(payload), as the client does.
    token.add_signature(
        private_key, None, None, json_encode({"alg": JWS_ALG, "kid": private_key.thumbprint()})
    )
    return token.serialize()


def encrypt(plaintext: str, public_key: jwk.JWK) -> str:
    protected = {"alg": JWE_ALG, "enc": JWE_ENC, "typ": "JWE", "kid": public_key.thumbprint()}
    token = jwe.JWE(plaintext.encode(), json_encode(protected))
    token.add_recipient(public_key)
    return token.serialize()


def wrap(data: Any, sign_key: jwk.JWK, encrypt_key: jwk.JWK) -> str:
    """The ``msg`` string of a message carrying ``data``."""
    return encrypt(json.dumps({"data": data, "sign": sign(data, sign_key)}), encrypt_key)


def decrypt(message: str, private_key: jwk.JWK) -> dict:
    token = jwe.JWE()
    # Only what the client emits: no downgrade to RSA1_5 or other content encryptions.
    token.allowed_algs = [JWE_ALG, JWE_ENC]
    try:
        token.deserialize(message, key=private_key)
        plaintext = json.loads(token.payload)
    except (JWException, ValueError, TypeError, KeyError, RecursionError) as error:
        raise EnvelopeError("Invalid Data") from error
    if not isinstance(plaintext, dict) or "data" not in plaintext or "sign" not in plaintext:
        raise EnvelopeError("Invalid Data")
    return plaintext


def verify(signature: str, public_key: jwk.JWK) -> str:
    token = jws.JWS()
    try:
        token.deserialize(signature)
        token.verify(public_key, alg=JWS_ALG)
    except (JWException, ValueError, TypeError, KeyError, RecursionError) as error:
        raise EnvelopeError("Invalid Signature") from error
    return token.payload.decode()


def open_envelope(message: Any, decrypt_key: jwk.JWK) -> dict:
    """First half of ``unwrap``: the decrypted plaintext ``{"data", "sign"}``, NOT verified.

    Lets a caller look up what it needs to verify (the signer's key) and prefetch rows while
    it is at it; nothing in ``data`` may be trusted before ``verified_data`` returns it."""
    if not isinstance(message, str) or not message:
        raise EnvelopeError("Invalid Data")
    return decrypt(message, decrypt_key)


def verified_data(plaintext: dict, verify_key: jwk.JWK) -> Any:
    """Second half of ``unwrap``: ``data`` once its signature verifies and matches it."""
    if not isinstance(plaintext["sign"], str):
        raise EnvelopeError("Invalid Signature")
    payload = verify(plaintext["sign"], verify_key)
    data = plaintext["data"]
    if not _payload_matches(payload, data):
        raise EnvelopeError("Invalid Signature")
    return data


def unwrap(message: Any, decrypt_key: jwk.JWK, verify_key: jwk.JWK) -> Any:
    """The verified ``data`` of a ``msg`` string; ``EnvelopeError`` otherwise."""
    return verified_data(open_envelope(message, decrypt_key), verify_key)


def _payload_matches(payload: str, data: Any) -> bool:
    if isinstance(data, dict):
        try:
            return json.loads(payload) == data
        except ValueError:
            return False
    return payload == str(data)
