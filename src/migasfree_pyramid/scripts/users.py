"""``migasfree-user <ini> create|set-password``: manage administrator accounts from a shell.

The password is read from the terminal (asked twice, not echoed) or, with ``--password-stdin``,
from the first line of standard input, so that it never appears in a process listing or in the
shell history.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..db import get_session_factory, make_engine
from ..models import Group, UserProfile
from ..security.passwords import hash_password
from .initialize_db import (
    ScriptError,
    check_password,
    check_username,
    database_error,
    fail,
    session_scope,
    settings_for,
)


def read_password(from_stdin: bool, stdin=None) -> str:
    """The new password, from stdin or asked twice on the terminal."""
    stdin = stdin or sys.stdin
    if from_stdin:
        password = stdin.readline().rstrip("\r\n")
    elif stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password (again): ") != password:
            raise ScriptError("the two passwords differ")
    else:
        raise ScriptError("no terminal to ask the password on: use --password-stdin", 2)
    return check_password(password)


def find_user(session, username: str) -> UserProfile | None:
    return session.scalars(select(UserProfile).where(UserProfile.username == username)).first()


def create_user(session, args, password: str) -> str:
    check_username(args.username)
    if find_user(session, args.username) is not None:
        raise ScriptError(f"user {args.username!r} already exists")
    wanted = list(dict.fromkeys(args.group))
    groups = list(session.scalars(select(Group).where(Group.name.in_(wanted))))
    missing = sorted(set(wanted) - {group.name for group in groups})
    if missing:
        known = ", ".join(sorted(session.scalars(select(Group.name)))) or "none"
        raise ScriptError(f"no such group: {', '.join(missing)} (groups: {known})")
    session.add(
        UserProfile(
            username=args.username,
            password=hash_password(password),
            email=args.email,
            is_superuser=args.superuser,
            is_staff=True,
            groups=groups,
        )
    )
    session.flush()
    kind = "superuser" if args.superuser else "user"
    in_groups = f" in {', '.join(wanted)}" if wanted else ""
    return f"Created {kind} {args.username!r}{in_groups}"


def set_password(session, args, password: str) -> str:
    user = find_user(session, args.username)
    if user is None:
        raise ScriptError(f"no user {args.username!r}")
    user.password = hash_password(password)
    return f"Password of {args.username!r} changed"


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(
        prog="migasfree-user", description="Create administrators and set their passwords."
    )
    main_parser.add_argument("ini", help="configuration file, e.g. development.ini")
    commands = main_parser.add_subparsers(dest="command", required=True)

    create = commands.add_parser("create", help="create a user")
    create.add_argument("username")
    create.add_argument("--superuser", action="store_true", help="grant every permission")
    create.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="NAME",
        help="add to this group (repeatable), e.g. Reader, Packager",
    )
    create.add_argument("--email", default="")
    create.set_defaults(action=create_user)

    change = commands.add_parser("set-password", help="set a user's password")
    change.add_argument("username")
    change.set_defaults(action=set_password)

    for command in (create, change):
        command.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input",
        )
    return main_parser


def run(args) -> str:
    password = read_password(args.password_stdin)
    # Accounts need the database only: no app, so this is quick and works with any addons.
    settings = settings_for(args.ini)
    engine = make_engine(settings["sqlalchemy.url"])
    try:
        with session_scope(get_session_factory(engine)) as session:
            return args.action(session, args, password)
    except SQLAlchemyError as error:
        problem = database_error(settings, error)
        if "table" in str(problem) or "unable to open" in str(problem):
            problem = ScriptError(f"{problem} (has `migasfree-initdb {args.ini}` run?)")
        raise problem from error
    finally:
        engine.dispose()


def main(argv=None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    try:
        print(run(args))
    except ScriptError as error:
        return fail(cli.prog, error)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
