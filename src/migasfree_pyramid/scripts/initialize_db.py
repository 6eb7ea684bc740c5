"""``migasfree-initdb <ini>``: make a server ready to serve; safe to run on every start.

It migrates the database (``upgrade heads``: the core and every enabled addon's branch), seeds
the initial data (with the permissions of the addons the ini enables), creates the server and
packager key pairs and the repository signing key if they are missing and, when the database
has no superuser yet, creates one: ``admin`` with a random password that is printed once and
saved to ``<var_dir>/admin-password.txt`` (mode 0600), or with the password in
``MIGASFREE_ADMIN_PASSWORD`` (then neither printed nor saved).

The helpers here (``load_app``, ``ScriptError``, ``session_scope``) are shared with the other
console scripts: user errors end with a one-line message and an exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import sys

import transaction
from plaster.exceptions import PlasterError
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.paster import bootstrap, get_appsettings, setup_logging
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from ..crypto.gpg import GpgError, ensure_repository_key, public_key_path
from ..crypto.keystore import PACKAGER, SERVER, KeyStore
from ..db import ENGINE_KEY, SESSION_FACTORY_KEY, get_tm_session
from ..initial_data import seed
from ..models import UserProfile
from ..security.passwords import hash_password
from .migrate import upgrade

ADMIN_PASSWORD_ENV = "MIGASFREE_ADMIN_PASSWORD"  # noqa: S105 (a variable name, not a secret)
PASSWORD_FILE = "admin-password.txt"  # noqa: S105


# Django's rules: accounts imported from the original keep their names.
USERNAME = re.compile(r"^[\w.@+-]{1,150}$")
MIN_PASSWORD_LENGTH = 8


class ScriptError(Exception):
    """A failure the user can fix: printed as one line, exit status ``code``."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def fail(prog: str, error: ScriptError) -> int:
    print(f"{prog}: error: {error}", file=sys.stderr)
    return error.code


def check_username(username: str) -> str:
    if not USERNAME.match(username):
        raise ScriptError(
            f"invalid user name {username!r}: at most 150 letters, digits and @ . + - _", 2
        )
    return username


def check_password(password: str, origin: str = "the password") -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ScriptError(f"{origin} must have at least {MIN_PASSWORD_LENGTH} characters")
    return password


def command_path(name: str) -> str:
    """How to call our console script ``name``: beside this Python (``.venv/bin/...``), as the
    user may not have activated the virtual environment."""
    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(path):
        return name
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def settings_for(ini: str) -> dict:
    """The validated core settings of ``ini`` (absolute paths), without building the app."""
    if not os.path.isfile(ini):
        raise ScriptError(f"no such configuration file: {ini}", 2)
    try:
        loaded = get_appsettings(ini)
        raw = {"here": loaded.global_conf.get("here"), **loaded}
        config = Configurator(settings=raw)
        config.include("migasfree_pyramid.settings")
    except (PlasterError, LookupError, ValueError) as error:
        raise ScriptError(f"cannot read {ini}: {error}", 2) from error
    except ConfigurationError as error:
        raise ScriptError(f"{ini}: {error}", 2) from error
    return dict(config.get_settings())


def prepare_dirs(settings: dict) -> None:
    """Create the folders the app writes to: a fresh clone has no ``var/`` (it is ignored by
    git), and SQLite, the huey queue and the key store cannot create their parent folders."""
    folders = [settings["migasfree.var_dir"], settings["migasfree.public_dir"]]
    if settings["huey.backend"] == "sqlite":
        folders.append(os.path.dirname(settings["huey.sqlite_path"]))
    url = make_url(settings["sqlalchemy.url"])
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        folders.append(os.path.dirname(os.path.abspath(url.database)))
    for folder in folders:
        if folder:
            os.makedirs(folder, exist_ok=True)


def load_app(ini: str) -> dict:
    """``pyramid.paster.bootstrap`` after checking the settings and creating the folders."""
    prepare_dirs(settings_for(ini))
    try:
        return bootstrap(ini)
    except ConfigurationError as error:
        raise ScriptError(f"{ini}: {error}", 2) from error


def describe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def database_error(settings: dict, error: SQLAlchemyError) -> ScriptError:
    detail = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    return ScriptError(f"database {describe_url(settings['sqlalchemy.url'])}: {detail}")


@contextlib.contextmanager
def session_scope(factory):
    """A session in its own transaction, committed on success (scripts have no request)."""
    session = get_tm_session(factory, transaction.manager)
    try:
        with transaction.manager:
            yield session
    finally:
        session.close()  # after the commit, which needs the session open


def has_superuser(session) -> bool:
    return (
        session.scalars(select(UserProfile.id).where(UserProfile.is_superuser)).first() is not None
    )


def create_first_admin(session, username: str, password: str) -> bool:
    """Create the superuser ``username`` if the database has none; True when created."""
    if has_superuser(session):
        return False
    taken = session.scalars(select(UserProfile).where(UserProfile.username == username)).first()
    if taken is not None:
        raise ScriptError(
            f"there is no superuser, and the name {username!r} is taken by a user who is not "
            "one: choose another with --admin-username"
        )
    session.add(
        UserProfile(
            username=username,
            password=hash_password(password),
            is_superuser=True,
            is_staff=True,
        )
    )
    session.flush()
    return True


def write_secret(path: str, text: str) -> str:
    """Save ``text`` readable by its owner only; returns where, or why it could not."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # the file may exist from an earlier database, with other bits
        with os.fdopen(fd, "w") as handle:
            handle.write(text + "\n")
    except OSError as error:
        return f"NOT saved ({error}): write it down now"
    return f"also saved (mode 0600) in {path}"


def announce_admin(out, ini: str, username: str, password: str, saved: str) -> None:
    line = "=" * 72
    print(line, file=out)
    print(f"  Administrator created: {username}", file=out)
    print(f"  Password: {password}", file=out)
    print(f"  Shown only this once; {saved}", file=out)
    change = f"{command_path('migasfree-user')} {ini} set-password {username}"
    print(f"  Change it with: {change}", file=out)
    print(line, file=out, flush=True)


def ensure_keys(keys_dir: str, out) -> None:
    store = KeyStore(keys_dir)
    missing = [name for name in (SERVER, PACKAGER) if not store.exists(name)]
    try:
        for name in missing:
            store.ensure(name)
    except (OSError, ValueError) as error:
        raise ScriptError(f"cannot create the keys in {keys_dir}: {error}") from error
    if missing:
        print(f"Created the {' and '.join(missing)} keys in {keys_dir}", file=out)
    # The repository signing key (OpenPGP, RSA 4096): made here rather than by the first build,
    # so that clients can fetch the public key before any repository exists.
    had_repository_key = os.path.exists(public_key_path(keys_dir))
    try:
        ensure_repository_key(keys_dir)
    except (GpgError, OSError) as error:
        raise ScriptError(f"cannot create the repository key in {keys_dir}: {error}") from error
    if not had_repository_key:
        print(f"Created the repository signing key in {keys_dir}", file=out)


def initialize(ini: str, admin_username: str = "admin", out=None) -> None:
    """Migrate, seed, create keys and the first superuser (see the module docstring)."""
    out = out or sys.stdout
    check_username(admin_username)
    given = os.environ.get(ADMIN_PASSWORD_ENV, "")
    if given:
        check_password(given, f"${ADMIN_PASSWORD_ENV}")
    password = given or secrets.token_urlsafe(15)
    env = load_app(ini)
    registry = env["registry"]
    settings = registry.settings
    try:
        # Keys first: nothing may fail between creating the admin and showing its password.
        ensure_keys(settings["migasfree.keys_dir"], out)
        upgrade(ini, settings=settings, engine=registry[ENGINE_KEY])
        with session_scope(registry[SESSION_FACTORY_KEY]) as session:
            seed(session, registry)
            created = create_first_admin(session, admin_username, password)
    except SQLAlchemyError as error:
        raise database_error(settings, error) from error
    finally:
        env["closer"]()
        registry[ENGINE_KEY].dispose()
    print(f"Database ready: {describe_url(settings['sqlalchemy.url'])}", file=out)

    password_path = os.path.join(settings["migasfree.var_dir"], PASSWORD_FILE)
    if created and not given:
        # Saved only after the commit: the file never names an account that does not exist.
        announce_admin(out, ini, admin_username, password, write_secret(password_path, password))
    elif created:
        print(
            f"Administrator created: {admin_username} (password from ${ADMIN_PASSWORD_ENV})",
            file=out,
        )
    elif os.path.exists(password_path):
        print(f"The first administrator password is in {password_path}", file=out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="migasfree-initdb",
        description="Migrate the database, seed initial data, create the server keys and, on "
        f"the first run, a superuser (password from ${ADMIN_PASSWORD_ENV} or random).",
    )
    parser.add_argument("ini", help="configuration file, e.g. development.ini")
    parser.add_argument(
        "--admin-username", default="admin", help="name of the first superuser (default: admin)"
    )
    args = parser.parse_args(argv)
    with contextlib.suppress(PlasterError, LookupError, ValueError, OSError):
        setup_logging(args.ini)
    try:
        initialize(args.ini, args.admin_username)
    except ScriptError as error:
        return fail(parser.prog, error)
    return 0


if __name__ == "__main__":
    sys.exit(main())
