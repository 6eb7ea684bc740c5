"""RSA key pairs on disk (``<name>.pri`` / ``<name>.pub``) and their parsed JWKs.

File names and formats are the original's, because keys move between servers and clients:
``migasfree-server``, ``migasfree-packager`` and one pair per project named by its slug; PEM
PKCS#8 private keys (mode 0400) and SPKI public keys, RSA 2048 (protocol-v5 section 3.1).

A PEM is parsed once per process and file version (path and mtime), never per request. Pairs are
created on demand, safely against a concurrent creator in another process: the private key is
published with ``os.link``, which fails if another process won.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile

from jwcrypto import jwk

SERVER = "migasfree-server"
PACKAGER = "migasfree-packager"
KEY_SIZE = 2048


@functools.lru_cache(maxsize=256)
def _parse(path: str, mtime_ns: int) -> jwk.JWK:
    with open(path, "rb") as handle:
        return jwk.JWK.from_pem(handle.read())


def load_key(path: str) -> jwk.JWK:
    """The key in ``path``, parsed once per file version."""
    return _parse(path, os.stat(path).st_mtime_ns)


class KeyPairError(RuntimeError):
    """A key pair on disk is incomplete in a way that must not be repaired silently."""


def _write_temp(directory: str, data: bytes, mode: int) -> str:
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".key-")
    try:
        os.write(fd, data)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return tmp


class KeyStore:
    def __init__(self, keys_dir: str):
        self.keys_dir = keys_dir

    def path(self, name: str, private: bool) -> str:
        return os.path.join(self.keys_dir, f"{name}.{'pri' if private else 'pub'}")

    def exists(self, name: str) -> bool:
        return os.path.exists(self.path(name, True)) and os.path.exists(self.path(name, False))

    def ensure(self, name: str) -> None:
        """Create the pair ``name`` unless it exists (idempotent, race-safe)."""
        if self.exists(name):
            return
        os.makedirs(self.keys_dir, mode=0o700, exist_ok=True)
        private_path, public_path = self.path(name, True), self.path(name, False)
        if not os.path.exists(private_path) and os.path.exists(public_path):
            # Pairing a new private key with the old public key would sign and decrypt nothing
            # that matches; a person must decide (restore the .pri, or remove the .pub).
            raise KeyPairError(
                f"{public_path} exists without {private_path}: restore the private key or "
                "remove the public one to create a new pair"
            )
        if not os.path.exists(private_path):
            key = jwk.JWK.generate(kty="RSA", size=KEY_SIZE)
            tmp = _write_temp(
                self.keys_dir, key.export_to_pem(private_key=True, password=None), 0o400
            )
            try:
                os.link(tmp, private_path)
            except FileExistsError:
                pass  # another process created it first; its key wins
            finally:
                os.unlink(tmp)
        if not os.path.exists(public_path):
            key = load_key(private_path)
            tmp = _write_temp(self.keys_dir, key.export_to_pem(), 0o644)
            with contextlib.suppress(FileExistsError):
                os.replace(tmp, public_path)

    def private(self, name: str) -> jwk.JWK:
        self.ensure(name)
        return load_key(self.path(name, True))

    def public(self, name: str) -> jwk.JWK:
        self.ensure(name)
        return load_key(self.path(name, False))

    def pem(self, name: str, private: bool) -> str:
        self.ensure(name)
        with open(self.path(name, private), encoding="ascii") as handle:
            return handle.read()


def keystore(request_or_registry) -> KeyStore:
    registry = getattr(request_or_registry, "registry", request_or_registry)
    return KeyStore(registry.settings["migasfree.keys_dir"])
