"""The v5 envelope: golden format checks and refusal of tampered or foreign messages."""

from __future__ import annotations

import base64
import json

import pytest
from jwcrypto import jwe, jwk, jws
from jwcrypto.common import json_encode

from migasfree_pyramid.crypto.envelope import EnvelopeError, unwrap, wrap


@pytest.fixture(scope="module")
def keys():
    return {name: jwk.JWK.generate(kty="RSA", size=2048) for name in ("server", "project", "other")}


def client_wrap(data, sign_key, encrypt_key):
    """The message exactly as the v5 client builds it (protocol-v5 section 2.1)."""
    payload = json.dumps(data) if isinstance(data, dict) else str(data)
    signature = jws.JWS(payload.encode())
    signature.add_signature(
        sign_key, None, None, json_encode({"alg": "RS256", "kid": sign_key.thumbprint()})
    )
    plaintext = json.dumps({"data": data, "sign": signature.serialize()})
    protected = {
        "alg": "RSA-OAEP-256",
        "enc": "A256CBC-HS512",
        "typ": "JWE",
        "kid": encrypt_key.thumbprint(),
    }
    token = jwe.JWE(plaintext.encode(), json_encode(protected))
    token.add_recipient(encrypt_key)
    return token.serialize()


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.mark.parametrize("data", [{"id": 7, "name": "PC"}, [{"name": "x"}], 7, "EOT OK"])
def test_client_message_unwraps(keys, data):
    message = client_wrap(data, keys["project"], keys["server"])
    assert unwrap(message, keys["server"], keys["project"]) == data


def test_reply_has_exactly_the_spec_headers(keys):
    message = wrap({"id": 7}, keys["server"], keys["project"])
    outer = json.loads(message)
    assert set(outer) == {"protected", "encrypted_key", "iv", "ciphertext", "tag"}
    protected = json.loads(b64decode(outer["protected"]))
    assert protected == {
        "alg": "RSA-OAEP-256",
        "enc": "A256CBC-HS512",
        "typ": "JWE",
        "kid": keys["project"].thumbprint(),
    }
    assert len(b64decode(outer["encrypted_key"])) == 256
    token = jwe.JWE()
    token.deserialize(message, key=keys["project"])
    plaintext = json.loads(token.payload)
    signature = json.loads(plaintext["sign"])
    assert set(signature) == {"header", "payload", "signature"}
    assert signature["header"] == {"alg": "RS256", "kid": keys["server"].thumbprint()}
    assert json.loads(b64decode(signature["payload"])) == {"id": 7}
    # And the client's own reading code accepts it.
    assert unwrap(message, keys["project"], keys["server"]) == {"id": 7}


def test_wrong_signer_is_refused(keys):
    message = client_wrap({"id": 1}, keys["other"], keys["server"])
    with pytest.raises(EnvelopeError, match="Invalid Signature"):
        unwrap(message, keys["server"], keys["project"])


def test_message_for_another_server_is_refused(keys):
    message = client_wrap({"id": 1}, keys["project"], keys["other"])
    with pytest.raises(EnvelopeError, match="Invalid Data"):
        unwrap(message, keys["server"], keys["project"])


def test_data_swapped_beside_a_valid_signature_is_refused(keys):
    signed = jws.JWS(json.dumps({"id": 1}).encode())
    signed.add_signature(
        keys["project"],
        None,
        None,
        json_encode({"alg": "RS256", "kid": keys["project"].thumbprint()}),
    )
    forged = json.dumps({"data": {"id": 2}, "sign": signed.serialize()})
    token = jwe.JWE(forged.encode(), json_encode({"alg": "RSA-OAEP-256", "enc": "A256CBC-HS512"}))
    token.add_recipient(keys["server"])
    with pytest.raises(EnvelopeError):
        unwrap(token.serialize(), keys["server"], keys["project"])


@pytest.mark.parametrize("garbage", ["", "not json", "{}", '{"protected": "x"}', None, 42])
def test_garbage_is_refused(keys, garbage):
    with pytest.raises(EnvelopeError):
        unwrap(garbage, keys["server"], keys["project"])


def test_downgraded_algorithm_is_refused(keys):
    plaintext = json.dumps({"data": 1, "sign": "x"})
    token = jwe.JWE(plaintext.encode(), json_encode({"alg": "RSA-OAEP", "enc": "A128GCM"}))
    token.add_recipient(keys["server"])
    with pytest.raises(EnvelopeError):
        unwrap(token.serialize(), keys["server"], keys["project"])
