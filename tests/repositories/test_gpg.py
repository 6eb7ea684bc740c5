"""The repository signing key: creation (once, even when processes race), import of the
original server's key, and signatures that gpgv verifies with the exported public key."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from migasfree_pyramid.crypto import gpg
from migasfree_pyramid.crypto.gpg import GpgError, Signer, SignRequest

from .builders import dearmor, gpgv, run, scratch_dir
from .packages import requires

pytestmark = requires("gpg", "gpgv")

FIXTURE_KEYS = "/work/shared/fixtures/django-migasfree-small-keys"
FIXTURE_FINGERPRINT = "36EBA45192062E03B9DC5DFA9024FC9E825ECC61"


def show_key(path: str) -> list[list[str]]:
    """``gpg --show-keys`` records of an exported key file, without touching any keyring."""
    result = run(["gpg", "--batch", "--with-colons", "--show-keys", path])
    assert result.returncode == 0, result.stderr
    return [line.split(":") for line in result.stdout.splitlines()]


def secret_fingerprints(keys_dir: str) -> list[str]:
    home = os.path.join(keys_dir, ".gnupg")
    result = run(["gpg", "--batch", "--homedir", home, "--with-colons", "--list-secret-keys"])
    lines = result.stdout.splitlines()
    return [
        lines[i + 1].split(":")[9]
        for i, line in enumerate(lines)
        if line.startswith("sec:") and lines[i + 1].startswith("fpr:")
    ]


def keyring_of(keys_dir: str, target_dir: str) -> str:
    return dearmor(
        os.path.join(keys_dir, "migasfree-repository.gpg"), os.path.join(target_dir, "k.gpg")
    )


@pytest.fixture
def fixture_secret():
    path = os.path.join(FIXTURE_KEYS, "migasfree-repository.sec")
    if not os.path.exists(path):
        pytest.skip(f"fixture key missing: {path}")
    with open(path) as handle:
        return handle.read()


def test_the_key_is_rsa_4096_named_like_the_originals(repo_keys):
    fingerprint = gpg.ensure_repository_key(repo_keys)
    records = show_key(os.path.join(repo_keys, "migasfree-repository.gpg"))
    pub = next(r for r in records if r[0] == "pub")
    assert (pub[2], pub[3]) == ("4096", "1")  # RSA
    assert "s" in pub[11]
    assert pub[6] == ""  # no expiry
    assert next(r for r in records if r[0] == "fpr")[9] == fingerprint
    assert [r[9] for r in records if r[0] == "uid"] == [gpg.KEY_UID]
    home = os.path.join(repo_keys, ".gnupg")
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
    with open(os.path.join(repo_keys, "migasfree-repository.gpg")) as handle:
        assert handle.read().startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")


def test_ensure_again_changes_nothing(copied_keys):
    public = os.path.join(copied_keys, "migasfree-repository.gpg")
    before = (secret_fingerprints(copied_keys), os.stat(public).st_mtime_ns)
    first = gpg.ensure_repository_key(copied_keys)
    assert gpg.ensure_repository_key(copied_keys) == first
    assert (secret_fingerprints(copied_keys), os.stat(public).st_mtime_ns) == before
    assert secret_fingerprints(copied_keys) == [first]


def test_a_lost_public_export_is_written_again(copied_keys):
    public = os.path.join(copied_keys, "migasfree-repository.gpg")
    os.unlink(public)
    fingerprint = gpg.ensure_repository_key(copied_keys)
    assert next(r for r in show_key(public) if r[0] == "fpr")[9] == fingerprint


def test_two_processes_racing_make_one_key():
    """Both callers wait on the home's lock: one generates, the other finds its key."""
    code = "import sys; from migasfree_pyramid.crypto.gpg import ensure_repository_key as e; "
    code += "print(e(sys.argv[1]))"
    with scratch_dir("mfk-") as keys_dir:
        procs = [
            subprocess.Popen(  # noqa: S603
                [sys.executable, "-c", code, keys_dir], stdout=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        outputs = [proc.communicate(timeout=300)[0].strip() for proc in procs]
        assert all(proc.returncode == 0 for proc in procs)
        assert outputs[0] == outputs[1]
        assert secret_fingerprints(keys_dir) == [outputs[0]]


def test_signatures_verify_with_the_exported_key(repo_signer, client_dir):
    source = os.path.join(client_dir, "Release")
    with open(source, "w") as handle:
        handle.write("Origin: migasfree\nSuite: stable\n")
    keyring = keyring_of(repo_signer.keys_dir, client_dir)
    clear, armored, binary = (os.path.join(client_dir, n) for n in ("InRelease", "a.asc", "b.sig"))
    repo_signer.clearsign(source, clear)
    repo_signer.detach_sign(source, armored)
    repo_signer.detach_sign(source, binary, armor=False)

    assert gpgv(keyring, clear).returncode == 0
    assert gpgv(keyring, armored, source).returncode == 0
    assert gpgv(keyring, binary, source).returncode == 0
    with open(clear) as handle:
        assert handle.read().startswith("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n")
    with open(armored) as handle:
        assert handle.read().startswith("-----BEGIN PGP SIGNATURE-----")
    with open(binary, "rb") as handle:
        assert not handle.read().startswith(b"-----")
    assert stat.S_IMODE(os.stat(binary).st_mode) == 0o644

    with open(source, "a") as handle:
        handle.write("Label: tampered\n")
    assert gpgv(keyring, armored, source).returncode != 0


def test_existing_outputs_are_replaced(repo_signer, client_dir):
    """The original failed with 'File exists' when InRelease was left from a previous run."""
    source, target = os.path.join(client_dir, "Release"), os.path.join(client_dir, "InRelease")
    for text in ("first\n", "second\n"):
        with open(source, "w") as handle:
            handle.write(text)
        repo_signer.clearsign(source, target)
    with open(target) as handle:
        assert "second" in handle.read()
    assert sorted(os.listdir(client_dir)) == ["InRelease", "Release"]


def test_several_signatures_at_once(repo_signer, client_dir):
    source = os.path.join(client_dir, "packages.json")
    with open(source, "w") as handle:
        handle.write("{}\n")
    outputs = [os.path.join(client_dir, f"s{i}.asc") for i in range(3)]
    repo_signer.sign([SignRequest(source, output, "armor") for output in outputs])
    keyring = keyring_of(repo_signer.keys_dir, client_dir)
    assert all(gpgv(keyring, output, source).returncode == 0 for output in outputs)


def test_signing_a_missing_file_is_a_gpg_error(repo_signer, client_dir):
    with pytest.raises(GpgError, match="gpg failed"):
        repo_signer.detach_sign(os.path.join(client_dir, "nothere"), f"{client_dir}/x.asc")
    with pytest.raises(ValueError, match="unknown signature mode"):
        repo_signer.sign([SignRequest("a", "b", "text")])


def test_missing_gpg_is_reported(monkeypatch, client_dir):
    monkeypatch.setattr(gpg, "GPG", "gpg-that-does-not-exist")
    with pytest.raises(GpgError, match="not installed"):
        gpg.ensure_repository_key(client_dir)


def test_the_original_servers_key_is_imported_and_used(copied_keys, fixture_secret, client_dir):
    own = gpg.ensure_repository_key(copied_keys)
    assert gpg.import_repository_key(copied_keys, fixture_secret) == FIXTURE_FINGERPRINT
    assert gpg.ensure_repository_key(copied_keys) == FIXTURE_FINGERPRINT
    assert set(secret_fingerprints(copied_keys)) == {own, FIXTURE_FINGERPRINT}
    exported = os.path.join(copied_keys, "migasfree-repository.gpg")
    assert next(r for r in show_key(exported) if r[0] == "fpr")[9] == FIXTURE_FINGERPRINT

    signer = Signer(copied_keys)
    source = os.path.join(client_dir, "file")
    with open(source, "w") as handle:
        handle.write("data\n")
    signer.detach_sign(source, f"{source}.asc")
    # The public key the original server distributed verifies what we sign now.
    original = dearmor(
        os.path.join(FIXTURE_KEYS, "migasfree-repository.gpg"), f"{client_dir}/o.gpg"
    )
    assert gpgv(original, f"{source}.asc", source).returncode == 0


def test_a_copied_original_home_is_used_without_generating(fixture_secret, client_dir):
    """A ``.gnupg`` brought from the Django server has the key but no selection file."""
    home = os.path.join(client_dir, ".gnupg")
    os.makedirs(home, mode=0o700)
    result = subprocess.run(  # noqa: S603
        ["gpg", "--batch", "--homedir", home, "--import"],  # noqa: S607
        input=fixture_secret.encode(),
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert gpg.ensure_repository_key(client_dir) == FIXTURE_FINGERPRINT
    assert secret_fingerprints(client_dir) == [FIXTURE_FINGERPRINT]


@pytest.mark.parametrize(
    ("material", "message"),
    [
        ("not a key at all", "gpg failed|expected exactly one secret key"),
        ("public", "expected exactly one secret key, found 0 secret and 1 public"),
    ],
)
def test_importing_something_else_than_one_secret_key_fails(client_dir, material, message):
    if material == "public":
        with open(os.path.join(FIXTURE_KEYS, "migasfree-repository.gpg")) as handle:
            material = handle.read()
    with pytest.raises(GpgError, match=message):
        gpg.import_repository_key(client_dir, material)
    assert not os.path.exists(os.path.join(client_dir, "migasfree-repository.gpg"))
