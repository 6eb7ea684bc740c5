"""domain attributes: the attributes each domain's admins see, kept by the database

A domain admin sees the sync attributes of the computers in view and the domain's tags (spec
C.3). For a domain of 10,000 computers that was 160,000 links to read and reduce to 36,000
attributes on every attribute list, tag list, feature list and attribute filter: 200-250 ms, and
as the union of two sets PostgreSQL could not estimate its size (it guessed 200 rows) and
planned the lists around it. ``core_domain_attributes`` holds the set, next to the membership of
migration 0004: one index range with statistics.

A pair (domain, attribute) holds when some member of the domain has a link to the attribute or
the attribute is one of the domain's tags. What can change it, and the trigger that recomputes
the pairs concerned:

- a computer joins or leaves a domain (``core_domain_computers``): the domain with each of that
  computer's attributes;
- a computer gains or loses a link: that attribute with each domain the computer is in now and
  each domain that had the attribute (a lost link may also have taken the computer out);
- a tag is given to or taken from a domain (``core_domain_tags``): that pair.

Neither depends on the order in which triggers or cascades run (deleting a computer removes
its links and its memberships): each recomputes from what the tables hold when it runs. A pair
is recomputed by looking for the tag, then for one member with the link: the first found ends
the search.

Scopes get no such table: a scope narrows the domain's computers, so the attributes in view
are those of the narrowed set (and the tags), computed per request (scopes are small by nature).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 19:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LINKS = "client_computer_sync_attributes"
MEMBERS = "core_domain_computers"
TAGS = "core_domain_tags"
TABLE = "core_domain_attributes"


def holds(domain: str, attribute: str) -> str:
    """SQL: ``attribute`` is a tag of ``domain`` or some member of it has a link to it."""
    return f"""(EXISTS (
        SELECT 1 FROM {TAGS} AS tag
        WHERE tag.domain_id = {domain} AND tag.attribute_id = {attribute})
      OR EXISTS (
        SELECT 1 FROM {LINKS} AS link
        JOIN {MEMBERS} AS member ON member.computer_id = link.computer_id
        WHERE link.attribute_id = {attribute} AND member.domain_id = {domain}))"""


def refresh_pairs(pairs: str) -> str:
    """SQL statements that recompute the (domain_id, attribute_id) rows ``pairs`` selects."""
    return f"""
        DELETE FROM {TABLE} AS kept USING ({pairs}) AS pair
        WHERE kept.domain_id = pair.domain_id AND kept.attribute_id = pair.attribute_id
          AND NOT {holds("pair.domain_id", "pair.attribute_id")};
        INSERT INTO {TABLE} (domain_id, attribute_id)
        SELECT DISTINCT pair.domain_id, pair.attribute_id FROM ({pairs}) AS pair
        WHERE NOT EXISTS (
            SELECT 1 FROM {TABLE} AS kept
            WHERE kept.domain_id = pair.domain_id AND kept.attribute_id = pair.attribute_id)
          AND {holds("pair.domain_id", "pair.attribute_id")}"""


def member_pairs(changed: str) -> str:
    """The pairs of changed memberships: the domain with each attribute of the computer."""
    return f"""
        SELECT DISTINCT changed.domain_id, link.attribute_id FROM {changed} AS changed
        JOIN {LINKS} AS link ON link.computer_id = changed.computer_id"""


def link_pairs(changed: str) -> str:
    """The pairs of changed links: each attribute with the domains that have it and the
    domains its computer is in."""
    return f"""
        SELECT kept.domain_id, changed.attribute_id FROM {changed} AS changed
        JOIN {TABLE} AS kept ON kept.attribute_id = changed.attribute_id
        UNION
        SELECT member.domain_id, changed.attribute_id FROM {changed} AS changed
        JOIN {MEMBERS} AS member ON member.computer_id = changed.computer_id"""


def tag_pairs(changed: str) -> str:
    """The pairs of changed tags: themselves."""
    return f"SELECT changed.domain_id, changed.attribute_id FROM {changed} AS changed"


# What each trigger watches: (name, table, the table's columns, the pairs its changes touch).
WATCHED = (
    ("members", MEMBERS, ("domain_id", "computer_id"), member_pairs),
    ("links", LINKS, ("computer_id", "attribute_id"), link_pairs),
    ("tags", TAGS, ("domain_id", "attribute_id"), tag_pairs),
)
EVENTS = (("INSERT", "NEW"), ("DELETE", "OLD"))

# PostgreSQL: the pairs as two arrays (domain ids, attribute ids) zipped by unnest.
POSTGRESQL_PAIRS = "SELECT * FROM unnest(domains, attributes) AS p(domain_id, attribute_id)"
POSTGRESQL = [
    f"""CREATE FUNCTION {TABLE}_of_pairs(domains integer[], attributes integer[])
    RETURNS void LANGUAGE plpgsql AS $$
    BEGIN {refresh_pairs(POSTGRESQL_PAIRS)} ON CONFLICT DO NOTHING; END $$""",
    *(
        f"""CREATE FUNCTION {TABLE}_{what}_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE domains integer[]; attributes integer[];
        BEGIN
            SELECT array_agg(pair.domain_id), array_agg(pair.attribute_id)
            INTO domains, attributes FROM ({pairs("changed")}) AS pair;
            IF domains IS NOT NULL THEN PERFORM {TABLE}_of_pairs(domains, attributes); END IF;
            RETURN NULL;
        END $$"""
        for what, _, _, pairs in WATCHED
    ),
    *(
        f"""CREATE TRIGGER {table}_{event.lower()}_attributes AFTER {event} ON {table}
        REFERENCING {rows} TABLE AS changed FOR EACH STATEMENT
        EXECUTE FUNCTION {TABLE}_{what}_changed()"""
        for what, table, _, _ in WATCHED
        for event, rows in EVENTS
    ),
]


def sqlite_ddl() -> list[str]:
    """SQLite has row triggers only: the changed row, as a one-row table, stands for the
    transition table."""
    statements = []
    for _, table, columns, pairs in WATCHED:
        for event, row in EVENTS:
            changed = "(SELECT " + ", ".join(f"{row}.{c} AS {c}" for c in columns) + ")"
            statements.append(
                f"CREATE TRIGGER {table}_{event.lower()}_attributes AFTER {event} ON {table}"
                f" FOR EACH ROW BEGIN {sqlite_refresh(pairs(changed))}; END"
            )
    return statements


def sqlite_refresh(pairs: str) -> str:
    """SQLite has no DELETE ... USING: the rows to drop are named by a row-value IN."""
    return f"""
        DELETE FROM {TABLE} WHERE (domain_id, attribute_id) IN (
            SELECT pair.domain_id, pair.attribute_id FROM ({pairs}) AS pair
            WHERE NOT {holds("pair.domain_id", "pair.attribute_id")});
        INSERT OR IGNORE INTO {TABLE} (domain_id, attribute_id)
        SELECT DISTINCT pair.domain_id, pair.attribute_id FROM ({pairs}) AS pair
        WHERE {holds("pair.domain_id", "pair.attribute_id")}"""


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("attribute_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attribute_id"],
            ["core_attribute.id"],
            name=op.f(f"fk_{TABLE}_attribute_id_core_attribute"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["core_domain.id"],
            name=op.f(f"fk_{TABLE}_domain_id_core_domain"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("domain_id", "attribute_id", name=op.f(f"pk_{TABLE}")),
    )
    op.create_index(f"ix_{TABLE}_attribute_id", TABLE, ["attribute_id", "domain_id"])
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL if postgresql else sqlite_ddl():
        op.execute(statement)
    op.execute(
        f"INSERT INTO {TABLE} (domain_id, attribute_id)"
        f" SELECT member.domain_id, link.attribute_id"
        f" FROM {MEMBERS} AS member JOIN {LINKS} AS link ON link.computer_id = member.computer_id"
        f" UNION SELECT domain_id, attribute_id FROM {TAGS}"
    )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for what, table, _, _ in WATCHED:
        for event, _ in EVENTS:
            name = f"{table}_{event.lower()}_attributes"
            op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION IF EXISTS {TABLE}_{what}_changed()")
    if postgresql:
        op.execute(f"DROP FUNCTION IF EXISTS {TABLE}_of_pairs(integer[], integer[])")
    op.drop_index(f"ix_{TABLE}_attribute_id", table_name=TABLE)
    op.drop_table(TABLE)
