"""domain membership: who belongs to each domain and scope, kept by the database

A restricted administrator sees the productive computers with a sync attribute included by
their domain (and scope) and none excluded (spec C.3). Deciding that on every request read the
links of every included attribute: 30-60 ms for a domain of 10,000 computers, before the list
itself. ``core_domain_computers`` and ``core_scope_computers`` hold the answer, so scoping is
one index range.

Triggers keep them, not the application: membership changes when a computer's sync attributes
change, when its status enters or leaves production, and when a domain's or scope's included
or excluded attributes change, including through cascades (a deleted attribute, computer,
domain). Every writer, present or future, core or addon or a bulk SQL load, goes through them.

- PostgreSQL: statement-level triggers with transition tables on the link tables (a sync
  replaces a computer's links in one statement; a bulk load recomputes once), a row trigger on
  status changes. A change of a domain's or scope's rule takes SHARE locks on the computers and
  their links before recomputing: a sync committing meanwhile could otherwise keep, in neither
  transaction's view, a computer that the new rule excludes.
- SQLite: row triggers (it has no others); writes are serialised there, so no lock is needed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWNERS = ("domain", "scope")
PRODUCTIVE = "('assigned', 'reserved', 'unknown')"
LINKS = "client_computer_sync_attributes"


def members(owner: str, where: str) -> str:
    """(owner id, computer id) of the memberships that hold, among the rows ``where`` selects
    (``link`` is the computer's link to an included attribute, ``inc`` the rule)."""
    return f"""
        SELECT DISTINCT inc.{owner}_id, link.computer_id
        FROM {LINKS} AS link
        JOIN core_{owner}_included_attributes AS inc ON inc.attribute_id = link.attribute_id
        JOIN client_computer AS computer ON computer.id = link.computer_id
        WHERE {where} AND computer.status IN {PRODUCTIVE}
          AND NOT EXISTS (
            SELECT 1 FROM {LINKS} AS other
            JOIN core_{owner}_excluded_attributes AS exc ON exc.attribute_id = other.attribute_id
            WHERE exc.{owner}_id = inc.{owner}_id AND other.computer_id = link.computer_id)"""


def refresh(owner: str, kept: str, wanted: str, sqlite: bool = False) -> str:
    """Statements that make ``core_<owner>_computers`` right for the rows the condition
    ``kept`` selects (``wanted`` is the same condition in ``members``' terms). Only what changed
    is written: a stale row deleted, a missing one inserted; a row that still holds is left
    alone, so the triggers on the table (migration 0005) see real changes only."""
    table = f"core_{owner}_computers"
    still = f"link.computer_id = {table}.computer_id AND inc.{owner}_id = {table}.{owner}_id"
    insert = "INSERT OR IGNORE INTO" if sqlite else "INSERT INTO"
    conflict = "" if sqlite else " ON CONFLICT DO NOTHING"
    return (
        f"DELETE FROM {table} WHERE {kept} AND NOT EXISTS ({members(owner, still)});"
        f" {insert} {table} ({owner}_id, computer_id) {members(owner, wanted)}{conflict};"
    )


def rules(owner: str) -> tuple[str, str]:
    return f"core_{owner}_included_attributes", f"core_{owner}_excluded_attributes"


def triggers() -> list[tuple[str, str, str, str]]:
    """(name, table, event, rows) of every trigger; rows names the transition table."""
    found = [
        (f"{table}_{event.lower()}_members", table, event, rows)
        for table in (LINKS, *(rule for owner in OWNERS for rule in rules(owner)))
        for event, rows in (("INSERT", "NEW"), ("DELETE", "OLD"))
    ]
    return [*found, ("client_computer_status_members", "client_computer", "UPDATE", "")]


def postgresql_functions() -> list[tuple[str, str]]:
    """(signature, body) of the PL/pgSQL functions, in creation order."""
    functions = []
    for owner in OWNERS:
        table = f"core_{owner}_computers"
        by_computer = refresh(owner, "computer_id = ANY(ids)", "link.computer_id = ANY(ids)")
        by_owner = refresh(owner, f"{owner}_id = ANY(ids)", f"inc.{owner}_id = ANY(ids)")
        functions += [
            (f"{table}_of_computers(ids integer[]) RETURNS void", f"BEGIN {by_computer} END"),
            (
                f"{table}_of_owners(ids integer[]) RETURNS void",
                f"""BEGIN
                    LOCK TABLE client_computer, {LINKS} IN SHARE MODE;
                    {by_owner}
                END""",
            ),
            (
                f"{table}_rule_changed() RETURNS trigger",
                f"""DECLARE ids integer[];
                BEGIN
                    SELECT array_agg(DISTINCT {owner}_id) INTO ids FROM changed;
                    IF ids IS NOT NULL THEN PERFORM {table}_of_owners(ids); END IF;
                    RETURN NULL;
                END""",
            ),
        ]
    of_computers = " ".join(f"PERFORM core_{o}_computers_of_computers(ids);" for o in OWNERS)
    return [
        *functions,
        ("core_members_of_computers(ids integer[]) RETURNS void", f"BEGIN {of_computers} END"),
        (
            "core_members_links_changed() RETURNS trigger",
            """DECLARE ids integer[];
            BEGIN
                SELECT array_agg(DISTINCT computer_id) INTO ids FROM changed;
                IF ids IS NOT NULL THEN PERFORM core_members_of_computers(ids); END IF;
                RETURN NULL;
            END""",
        ),
        (
            "core_members_status_changed() RETURNS trigger",
            "BEGIN PERFORM core_members_of_computers(ARRAY[NEW.id]); RETURN NULL; END",
        ),
    ]


def postgresql_ddl() -> list[str]:
    statements = [
        f"CREATE FUNCTION {signature} LANGUAGE plpgsql AS $$ {body} $$"
        for signature, body in postgresql_functions()
    ]
    for name, table, event, rows in triggers():
        if table == "client_computer":
            # A row trigger with a WHEN clause: the many updates of a computer that leave its
            # status alone (every sync writes its dates) cost no function call.
            statements.append(
                f"CREATE TRIGGER {name} AFTER UPDATE OF status ON {table} FOR EACH ROW"
                " WHEN (OLD.status IS DISTINCT FROM NEW.status)"
                " EXECUTE FUNCTION core_members_status_changed()"
            )
            continue
        function = "core_members_links_changed" if table == LINKS else None
        function = function or f"core_{table.split('_')[1]}_computers_rule_changed"
        statements.append(
            f"CREATE TRIGGER {name} AFTER {event} ON {table}"
            f" REFERENCING {rows} TABLE AS changed FOR EACH STATEMENT"
            f" EXECUTE FUNCTION {function}()"
        )
    return statements


def sqlite_ddl() -> list[str]:
    def refresh_sqlite(owner: str, column: str, value: str) -> str:
        alias = "link" if column == "computer_id" else "inc"
        return refresh(owner, f"{column} = {value}", f"{alias}.{column} = {value}", sqlite=True)

    statements = []
    for name, table, event, rows in triggers():
        if table == "client_computer":
            body = " ".join(refresh_sqlite(owner, "computer_id", "NEW.id") for owner in OWNERS)
            statements.append(
                f"CREATE TRIGGER {name} AFTER UPDATE OF status ON {table} FOR EACH ROW"
                f" WHEN OLD.status IS NOT NEW.status BEGIN {body} END"
            )
            continue
        if table == LINKS:
            body = " ".join(refresh_sqlite(o, "computer_id", f"{rows}.computer_id") for o in OWNERS)
        else:
            owner = table.split("_")[1]
            body = refresh_sqlite(owner, f"{owner}_id", f"{rows}.{owner}_id")
        statements.append(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW BEGIN {body} END"
        )
    return statements


def upgrade() -> None:
    for owner in OWNERS:
        table = f"core_{owner}_computers"
        op.create_table(
            table,
            sa.Column(f"{owner}_id", sa.Integer(), nullable=False),
            sa.Column("computer_id", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(
                ["computer_id"],
                ["client_computer.id"],
                name=op.f(f"fk_{table}_computer_id_client_computer"),
                ondelete="CASCADE",
            ),
            sa.ForeignKeyConstraint(
                [f"{owner}_id"],
                [f"core_{owner}.id"],
                name=op.f(f"fk_{table}_{owner}_id_core_{owner}"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint(f"{owner}_id", "computer_id", name=op.f(f"pk_{table}")),
        )
        op.create_index(f"ix_{table}_computer_id", table, ["computer_id", f"{owner}_id"])
    dialect = op.get_bind().dialect.name
    for statement in postgresql_ddl() if dialect == "postgresql" else sqlite_ddl():
        op.execute(statement)
    for owner in OWNERS:
        op.execute(
            f"INSERT INTO core_{owner}_computers ({owner}_id, computer_id) {members(owner, 'TRUE')}"
        )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, table, _, _ in triggers():
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgresql else ""))
    if postgresql:
        for signature, _ in reversed(postgresql_functions()):
            op.execute(f"DROP FUNCTION IF EXISTS {signature.split(' RETURNS ')[0]}")
    for owner in OWNERS:
        table = f"core_{owner}_computers"
        op.drop_index(f"ix_{table}_computer_id", table_name=table)
        op.drop_table(table)
