"""The key store (crypto/keystore.py): the formats the v5 client and the original use, file
modes, no overwrite, a consistent pair when two processes race, cached parsing."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto import jwe

from migasfree_pyramid.crypto import keystore as keystore_module
from migasfree_pyramid.crypto.keystore import PACKAGER, SERVER, KeyStore, keystore, load_key

FIXTURE_KEYS = Path(__file__).resolve().parents[3] / "shared/fixtures/django-migasfree-small-keys"


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def leftovers(folder) -> list[str]:
    return [name for name in os.listdir(folder) if name.startswith(".")]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One generated store for the read-only tests (an RSA key costs ~0.1 s)."""
    store = KeyStore(str(tmp_path_factory.mktemp("store") / "keys"))
    store.ensure(SERVER)
    store.ensure(PACKAGER)
    return store


def test_pairs_are_created_with_the_original_names_and_modes(store):
    folder = Path(store.keys_dir)
    assert sorted(os.listdir(folder)) == [
        "migasfree-packager.pri",
        "migasfree-packager.pub",
        "migasfree-server.pri",
        "migasfree-server.pub",
    ]
    assert mode(folder) == 0o700
    assert mode(folder / "migasfree-server.pri") == 0o400
    assert mode(folder / "migasfree-server.pub") == 0o644
    assert store.exists(SERVER)
    assert store.exists(PACKAGER)


def test_formats_are_pkcs8_and_spki_rsa_2048(store):
    private_pem = Path(store.path(SERVER, True)).read_bytes()
    public_pem = Path(store.path(SERVER, False)).read_bytes()
    assert private_pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert public_pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    private = serialization.load_pem_private_key(private_pem, password=None)
    public = serialization.load_pem_public_key(public_pem)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert private.key_size == 2048
    assert private.public_key().public_numbers() == public.public_numbers()


def test_the_two_pairs_differ(store):
    assert store.pem(SERVER, False) != store.pem(PACKAGER, False)


def test_ensure_again_changes_nothing(store):
    folder = Path(store.keys_dir)
    before = {name: (folder / name).read_bytes() for name in os.listdir(folder)}
    store.ensure(SERVER)
    store.ensure(PACKAGER)
    assert {name: (folder / name).read_bytes() for name in os.listdir(folder)} == before


def test_a_missing_public_half_is_derived_from_the_private_key(tmp_path, store):
    shutil.copy(store.path(SERVER, True), tmp_path / "migasfree-server.pri")
    KeyStore(str(tmp_path)).ensure(SERVER)
    assert (tmp_path / "migasfree-server.pub").read_text() == store.pem(SERVER, False)
    assert leftovers(tmp_path) == []


def test_a_lost_race_keeps_the_winners_key(tmp_path, monkeypatch, store):
    """Another process publishes its private key between our check and our link: ours is
    dropped and the public key is derived from the winner's, so the pair still matches."""
    winner = Path(store.path(SERVER, True)).read_bytes()
    real_link = os.link

    def rival_links_first(src, dst):
        if str(dst).endswith(".pri"):
            Path(dst).write_bytes(winner)
        return real_link(src, dst)

    monkeypatch.setattr(keystore_module.os, "link", rival_links_first)
    fresh = KeyStore(str(tmp_path / "keys"))
    fresh.ensure(SERVER)
    assert Path(fresh.path(SERVER, True)).read_bytes() == winner
    assert fresh.pem(SERVER, False) == store.pem(SERVER, False)
    assert leftovers(fresh.keys_dir) == []


def test_a_lone_public_key_is_not_paired_with_a_new_private_key(tmp_path, store):
    shutil.copy(store.path(SERVER, False), tmp_path / "migasfree-server.pub")
    with pytest.raises(Exception, match=r"migasfree-server\.pri"):
        KeyStore(str(tmp_path)).ensure(SERVER)


def test_loaded_keys_decrypt_what_the_public_key_encrypts(store):
    private, public = store.private(SERVER), store.public(SERVER)
    assert private.has_private
    assert not public.has_private
    assert public.thumbprint() == private.thumbprint()
    header = {"alg": "RSA-OAEP-256", "enc": "A256CBC-HS512", "kid": public.thumbprint()}
    message = jwe.JWE(b'{"data": 7}', protected=header)
    message.add_recipient(public)
    received = jwe.JWE()
    received.deserialize(message.serialize(), key=private)
    assert received.payload == b'{"data": 7}'


def test_parsing_is_cached_until_the_file_changes(tmp_path, store):
    path = tmp_path / "key.pri"
    shutil.copy(store.path(SERVER, True), path)
    first = load_key(str(path))
    assert load_key(str(path)) is first
    path.chmod(0o600)
    shutil.copy(store.path(PACKAGER, True), path)
    os.utime(path, ns=(1, os.stat(path).st_mtime_ns + 1_000_000))
    second = load_key(str(path))
    assert second is not first
    assert second.thumbprint() != first.thumbprint()


def test_project_pairs_are_made_on_demand(tmp_path):
    store = KeyStore(str(tmp_path))
    pem = store.pem("debian-12", True)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert store.exists("debian-12")
    assert not store.exists(SERVER)


def test_keystore_follows_the_configured_folder(tmp_path):
    registry = SimpleNamespace(settings={"migasfree.keys_dir": str(tmp_path)})
    assert keystore(registry).keys_dir == str(tmp_path)
    assert keystore(SimpleNamespace(registry=registry)).keys_dir == str(tmp_path)


@pytest.mark.skipif(not FIXTURE_KEYS.is_dir(), reason="shared fixtures are not beside the project")
def test_keys_of_a_django_installation_are_used_as_they_are(tmp_path):
    for name in ("migasfree-server.pri", "migasfree-server.pub"):
        shutil.copy(FIXTURE_KEYS / name, tmp_path / name)
    before = (tmp_path / "migasfree-server.pub").read_bytes()
    store = KeyStore(str(tmp_path))
    store.ensure(SERVER)
    assert (tmp_path / "migasfree-server.pub").read_bytes() == before
    assert store.private(SERVER).thumbprint() == store.public(SERVER).thumbprint()
