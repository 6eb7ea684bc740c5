"""The repository signing key (OpenPGP) and the signer that every package manager uses.

The key lives in a GnuPG home of its own, ``<keys_dir>/.gnupg`` (mode 0700), so the user's
keyring is never read or written. Its name, ``migasfree-repository <fun.with@migasfree.org>``,
and the exported public key ``<keys_dir>/migasfree-repository.gpg`` are the original's
(repositories.md 1.6): clients download that file and trust it for every repository.

Which key signs is recorded in ``<home>/migasfree-repository.fpr``. Without that file (a fresh
home, or a ``.gnupg`` copied from a Django server) the first secret key named
``migasfree-repository`` that can sign is chosen, as the original's ``--local-user`` did, and
one is generated (RSA 4096, no passphrase, no expiry) when there is none.

Every gpg call runs with ``--batch --homedir`` under an exclusive ``flock`` on a file in the
home: creating the key happens once even when two processes race, and signers never see a
half-imported keyring. gpg starts its agent on demand (gpg 2.2 signs through it); keep
``keys_dir`` short, as the agent's socket path must fit in 107 bytes when ``/run/user/<uid>``
does not exist.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

KEY_NAME = "migasfree-repository"
KEY_EMAIL = "fun.with@migasfree.org"
KEY_UID = f"{KEY_NAME} <{KEY_EMAIL}>"
KEY_LENGTH = 4096
PUBLIC_KEY_FILE = "migasfree-repository.gpg"
HOME_NAME = ".gnupg"
SELECTION_FILE = "migasfree-repository.fpr"
LOCK_FILE = ".migasfree.lock"
GPG = "gpg"
TIMEOUT = 300  # seconds; generating an RSA 4096 key on a starved machine is the slow case

# Batch parameters of ``gpg --generate-key``: a primary key that signs (and certifies).
_KEY_PARAMETERS = f"""\
Key-Type: RSA
Key-Length: {KEY_LENGTH}
Key-Usage: sign
Name-Real: {KEY_NAME}
Name-Email: {KEY_EMAIL}
Expire-Date: 0
%no-protection
%commit
"""


class GpgError(RuntimeError):
    """gpg is missing, failed, or the key material is not usable for signing."""


def gnupg_home(keys_dir: str) -> str:
    return os.path.join(keys_dir, HOME_NAME)


def public_key_path(keys_dir: str) -> str:
    """Where the armored public key is exported (served to clients)."""
    return os.path.join(keys_dir, PUBLIC_KEY_FILE)


@contextlib.contextmanager
def _locked(home: str):
    os.makedirs(home, mode=0o700, exist_ok=True)
    os.chmod(home, 0o700)  # makedirs obeys the umask; gpg warns about unsafe permissions
    fd = os.open(os.path.join(home, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _gpg(home: str, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess:
    argv = [GPG, "--batch", "--no-tty", "--homedir", home, "--pinentry-mode", "loopback"]
    # An empty passphrase: the key is unprotected, and nothing may ever wait for a pinentry.
    argv += ["--passphrase", "", *args]
    env = {**os.environ, "LC_ALL": "C"}
    env.pop("GNUPGHOME", None)
    try:
        result = subprocess.run(  # noqa: S603 (fixed argv, no shell)
            argv, input=data, capture_output=True, env=env, timeout=TIMEOUT, check=False
        )
    except FileNotFoundError as error:
        raise GpgError(f"{GPG} is not installed (Debian package gpg)") from error
    except subprocess.TimeoutExpired as error:
        raise GpgError(f"gpg {args[-1] if args else ''} timed out") from error
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip()
        raise GpgError(f"gpg failed ({result.returncode}): {detail}")
    return result


@dataclass(frozen=True)
class _Key:
    fingerprint: str
    uids: tuple[str, ...]
    can_sign: bool
    secret: bool


def _parse_keys(colons: str) -> list[_Key]:
    """Primary keys of ``--with-colons`` output (``sec``/``pub`` records and their uids)."""
    keys: list[dict] = []
    primary = False
    for line in colons.splitlines():
        fields = line.split(":")
        kind = fields[0]
        if kind in ("sec", "pub"):
            usable = fields[1] not in ("e", "r", "d", "i")  # expired, revoked, disabled, invalid
            keys.append(
                {
                    "fpr": "",
                    "uids": [],
                    "sign": usable and "S" in fields[11],
                    "secret": kind == "sec",
                }
            )
            primary = True
        elif kind in ("sub", "ssb"):
            primary = False
        elif kind == "fpr" and keys and primary and not keys[-1]["fpr"]:
            keys[-1]["fpr"] = fields[9]
        elif kind == "uid" and keys:
            keys[-1]["uids"].append(fields[9])
    return [_Key(k["fpr"], tuple(k["uids"]), k["sign"], k["secret"]) for k in keys]


def _secret_keys(home: str) -> list[_Key]:
    listing = _gpg(home, "--with-colons", "--fixed-list-mode", "--list-secret-keys")
    return _parse_keys(listing.stdout.decode(errors="replace"))


def _read_selection(home: str) -> str | None:
    try:
        with open(os.path.join(home, SELECTION_FILE), encoding="ascii") as handle:
            return handle.read().strip() or None
    except FileNotFoundError:
        return None


def _write_atomic(path: str, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            os.fchmod(handle.fileno(), mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _select(keys_dir: str, home: str, fingerprint: str, export: bool) -> None:
    if _read_selection(home) != fingerprint:
        _write_atomic(os.path.join(home, SELECTION_FILE), f"{fingerprint}\n".encode(), 0o600)
        export = True
    path = public_key_path(keys_dir)
    if export or not os.path.exists(path):
        armored = _gpg(home, "--armor", "--export", fingerprint).stdout
        if not armored:
            raise GpgError(f"gpg exported nothing for {fingerprint}")
        # 0644: the public key is meant to be read (and served) by anyone.
        _write_atomic(path, armored, 0o644)


def ensure_repository_key(keys_dir: str) -> str:
    """The fingerprint of the repository key, creating the key (and its public export) if the
    GnuPG home has none. Idempotent; concurrent callers wait for the one that generates."""
    home = gnupg_home(keys_dir)
    with _locked(home):
        keys = {key.fingerprint: key for key in _secret_keys(home) if key.can_sign}
        chosen = _read_selection(home)
        if chosen not in keys:
            named = [k for k in keys.values() if any(KEY_NAME in uid for uid in k.uids)]
            if named:
                chosen = named[0].fingerprint
            else:
                _gpg(home, "--generate-key", data=_KEY_PARAMETERS.encode())
                fresh = [k for k in _secret_keys(home) if k.can_sign and k.fingerprint not in keys]
                if len(fresh) != 1:
                    raise GpgError("gpg generated no usable repository key")
                chosen = fresh[0].fingerprint
        _select(keys_dir, home, chosen, export=False)
        return chosen


def import_repository_key(keys_dir: str, armored_secret: str | bytes) -> str:
    """Import an armored secret key (e.g. the original's ``migasfree-repository.sec``) and make
    it the repository key; returns its fingerprint. Repositories signed by a previous key keep
    that signature until they are rebuilt."""
    data = armored_secret.encode() if isinstance(armored_secret, str) else armored_secret
    home = gnupg_home(keys_dir)
    with _locked(home):
        shown = _gpg(home, "--with-colons", "--import-options", "show-only", "--import", data=data)
        material = _parse_keys(shown.stdout.decode(errors="replace"))
        secret = [key for key in material if key.secret]
        if len(secret) != 1 or len(material) != 1:
            raise GpgError(
                f"expected exactly one secret key, found {len(secret)} secret and "
                f"{len(material) - len(secret)} public keys"
            )
        if not secret[0].can_sign:
            raise GpgError(f"key {secret[0].fingerprint} cannot sign (expired or revoked?)")
        _gpg(home, "--import", data=data)
        fingerprint = secret[0].fingerprint
        if fingerprint not in {k.fingerprint for k in _secret_keys(home) if k.can_sign}:
            raise GpgError(f"the secret part of {fingerprint} was not imported")
        _select(keys_dir, home, fingerprint, export=True)
        return fingerprint


@dataclass(frozen=True)
class SignRequest:
    """One signature to make: ``mode`` is ``clear`` (clearsigned copy), ``armor`` (ASCII
    detached signature) or ``binary`` (binary detached signature)."""

    src: str
    dst: str
    mode: str = "armor"


_MODES = {
    "clear": ("--clearsign",),
    "armor": ("--detach-sign", "--armor"),
    "binary": ("--detach-sign",),
}


class Signer:
    """Signs files with the repository key of ``keys_dir`` (created on first use if missing)."""

    def __init__(self, keys_dir: str):
        self.keys_dir = keys_dir
        self.home = gnupg_home(keys_dir)
        self._fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = ensure_repository_key(self.keys_dir)
        return self._fingerprint

    def public_key_path(self) -> str:
        return public_key_path(self.keys_dir)

    def clearsign(self, src: str, dst: str) -> None:
        """Write ``dst``: ``src`` clearsigned (apt's ``InRelease``)."""
        self.sign([SignRequest(src, dst, "clear")])

    def detach_sign(self, src: str, dst: str, armor: bool = True) -> None:
        """Write ``dst``: a detached signature of ``src``, armored unless ``armor`` is False
        (pacman wants binary ``.sig`` files)."""
        self.sign([SignRequest(src, dst, "armor" if armor else "binary")])

    def sign(self, requests: list[SignRequest]) -> None:
        """Make several signatures: the first alone, the others in parallel (each gpg call is
        mostly waiting for process start-up and the agent). Outputs replace existing files
        atomically.

        The first call alone gets the agent going with the key: two calls that were the first
        to use a freshly imported key failed now and then ("signing failed: Invalid value",
        seen about once in ten test runs); after one signature, parallel calls are safe."""
        fingerprint = self.fingerprint
        for request in requests:
            if request.mode not in _MODES:
                raise ValueError(f"unknown signature mode {request.mode!r}")
        if not requests:
            return
        first, *others = requests
        with _locked(self.home):
            self._sign_one(fingerprint, first)
            if others:
                with ThreadPoolExecutor(max_workers=len(others)) as pool:
                    for future in [pool.submit(self._sign_one, fingerprint, r) for r in others]:
                        future.result()

    def _sign_one(self, fingerprint: str, request: SignRequest) -> None:
        tmp = f"{request.dst}.tmp-{os.getpid()}-{id(request)}"
        try:
            _gpg(
                self.home,
                "--yes",
                "--no-auto-check-trustdb",
                "--local-user",
                fingerprint,
                "--digest-algo",
                "SHA256",
                *_MODES[request.mode],
                "--output",
                tmp,
                request.src,
            )
            os.chmod(tmp, 0o644)
            os.replace(tmp, request.dst)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
