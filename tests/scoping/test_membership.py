"""The membership tables (``core_domain_computers``, ``core_scope_computers``) always equal the
rule of spec C.3, computed here in Python from the rows: whatever changes the links, the
statuses or the rules, through the ORM, in bulk, or by cascade; on PostgreSQL and on SQLite.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, event, insert, select, update
from sqlalchemy.orm import Session

from migasfree_pyramid.domain.status import PRODUCTIVE_ORDERED
from migasfree_pyramid.models import Computer
from migasfree_pyramid.models.computers import computer_sync_attributes as links
from migasfree_pyramid.models.domains import (
    Domain,
    Scope,
    domain_attributes,
    domain_computers,
    domain_excluded,
    scope_computers,
)

from ..conftest import migrate
from ..factories import Factory


def expected(session, owner) -> set[tuple[int, int]]:
    pairs = set()
    for rule in session.scalars(select(owner)):
        included = {a.id for a in rule.included_attributes}
        excluded = {a.id for a in rule.excluded_attributes}
        for computer in session.scalars(select(Computer)):
            have = {a.id for a in computer.sync_attributes}
            if computer.status in PRODUCTIVE_ORDERED and have & included and not have & excluded:
                pairs.add((rule.id, computer.id))
    return pairs


def stored(session, table) -> set[tuple[int, int]]:
    return {tuple(row) for row in session.execute(select(*table.c))}


def expected_attributes(session) -> set[tuple[int, int]]:
    """What each domain's admins see: its members' sync attributes and its tags."""
    members = expected(session, Domain)
    synced = {
        (domain_id, attribute.id)
        for domain_id, computer_id in members
        for attribute in session.get(Computer, computer_id).sync_attributes
    }
    tags = {(d.id, a.id) for d in session.scalars(select(Domain)) for a in d.tags}
    return synced | tags


def check(session):
    session.flush()
    session.expire_all()
    assert stored(session, domain_computers) == expected(session, Domain)
    assert stored(session, scope_computers) == expected(session, Scope)
    assert stored(session, domain_attributes) == expected_attributes(session)


def scenario(session):
    make = Factory(session)
    a, b, c, x = (make.attribute(value=v) for v in "ABCX")
    d1 = make.domain(included=[a], excluded=[x])
    d2 = make.domain(included=[b])
    make.scope(make.user(), included=[a, b], excluded=[c])
    c1 = make.computer(sync_attributes=[a])
    c2 = make.computer(sync_attributes=[a, x])
    c3 = make.computer(sync_attributes=[b, c])
    c4 = make.computer(sync_attributes=[a], status="in repair")
    c5 = make.computer()
    check(session)
    assert stored(session, domain_computers) == {
        (d1.id, c1.id),
        (d2.id, c3.id),
    }

    c5.sync_attributes.append(a)  # a link added
    check(session)
    c2.sync_attributes.remove(x)  # a link removed: no longer excluded
    check(session)
    c4.status = "assigned"  # back in production
    c1.status = "available"  # out of production
    check(session)
    d1.included_attributes.append(b)
    d2.excluded_attributes.append(c)
    check(session)

    # Bulk statements, as a sync or a data load writes them.
    session.execute(
        insert(links), [{"computer_id": cid, "attribute_id": x.id} for cid in (c3.id, c4.id)]
    )
    check(session)
    session.execute(
        update(Computer).where(Computer.id.in_([c2.id, c5.id])).values(status="reserved")
    )
    session.execute(update(Computer).values(name=Computer.name + "-renamed"))  # status untouched
    check(session)
    session.execute(delete(domain_excluded).where(domain_excluded.c.attribute_id == x.id))
    check(session)

    # A member's attribute that no rule names: in its domains' attributes while it has it.
    unique = make.attribute(value="U")
    c6 = make.computer(sync_attributes=[b, unique])
    check(session)
    c6.sync_attributes.remove(unique)
    check(session)
    session.execute(insert(links).values(computer_id=c6.id, attribute_id=unique.id))
    check(session)
    session.delete(c6)
    check(session)

    # Tags given and taken, including one a member also has as a sync attribute.
    tag, shared = make.attribute(value="T"), make.attribute(value="S")
    member = make.computer(sync_attributes=[b, shared])  # in d2
    d2.tags.extend([tag, shared])
    check(session)
    assert (d2.id, member.id) in stored(session, domain_computers)
    d2.tags.remove(shared)  # still seen: a member has it
    check(session)
    assert (d2.id, shared.id) in stored(session, domain_attributes)
    d2.tags.remove(tag)
    check(session)
    d2.tags.append(tag)
    check(session)

    # Cascades: an attribute, a computer, a domain deleted.
    session.delete(a)
    check(session)
    session.delete(c3)
    check(session)
    session.delete(d2)
    check(session)


def test_membership_follows_every_change_postgresql(dbsession):
    scenario(dbsession)


def test_membership_follows_every_change_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'membership.sqlite'}"
    from migasfree_pyramid.db import make_engine

    engine = make_engine(url)
    migrate(engine, url)
    with Session(engine) as session:
        scenario(session)
    engine.dispose()


def test_a_rule_change_waits_for_syncs_in_flight(engine):
    """A sync adding an excluded link and an admin excluding that attribute, at the same time:
    neither transaction sees the other's change, so without the rule's lock the computer would
    stay in the domain. The rule change waits for the sync to commit, then sees its link."""
    # Committed for real (two connections must see them): what is inserted is removed at the
    # end, and only that (the seeded rows the factories read stay).
    created = []
    with Session(engine) as session:
        event.listen(
            session, "pending_to_persistent", lambda _, obj: created.append((type(obj), obj))
        )
        make = Factory(session)
        included, excluded = make.attribute(value="IN"), make.attribute(value="OUT")
        domain = make.domain(included=[included])
        computer = make.computer(sync_attributes=[included])
        session.commit()
        created = [(model, obj.id) for model, obj in created]
        ids = domain.id, computer.id, excluded.id
    try:
        with engine.connect() as sync:
            sync.execute(insert(links).values(computer_id=ids[1], attribute_id=ids[2]))
            errors = []

            def exclude():
                try:
                    with engine.begin() as admin:
                        admin.execute(
                            insert(domain_excluded).values(domain_id=ids[0], attribute_id=ids[2])
                        )
                except Exception as error:  # reported by the main thread
                    errors.append(error)

            admin = threading.Thread(target=exclude)
            admin.start()
            admin.join(0.5)
            assert admin.is_alive(), "the rule change did not wait for the sync in flight"
            sync.commit()
        admin.join(10)
        assert not errors
        with Session(engine) as session:
            assert (ids[0], ids[1]) not in stored(session, domain_computers)
    finally:
        with Session(engine) as session:
            # Newest first: what was inserted later may point at what was inserted before.
            for model, id_ in reversed(created):
                session.execute(delete(model).where(model.id == id_))
            session.commit()


@pytest.mark.parametrize("status", ["in repair", "available", "unsubscribed"])
def test_unproductive_computers_are_in_no_domain(dbsession, status):
    make = Factory(dbsession)
    attribute = make.attribute()
    make.domain(included=[attribute])
    make.computer(sync_attributes=[attribute], status=status)
    dbsession.flush()
    assert stored(dbsession, domain_computers) == set()


def test_a_membership_that_still_holds_is_not_rewritten(dbsession):
    """A link that changes nothing for the domains leaves their rows alone (same physical row),
    so the triggers watching the membership (domain attributes) have nothing to redo."""
    from sqlalchemy import text

    make = Factory(dbsession)
    included, other = make.attribute(value="IN"), make.attribute(value="OTHER")
    make.domain(included=[included])
    computer = make.computer(sync_attributes=[included])
    dbsession.flush()
    where = {"id": computer.id}
    row = text("SELECT ctid FROM core_domain_computers WHERE computer_id = :id")
    before = dbsession.execute(row, where).scalar_one()
    computer.sync_attributes.append(other)
    dbsession.flush()
    assert dbsession.execute(row, where).scalar_one() == before
    check(dbsession)
