"""Small factories for test data: each makes one row (and what it needs) and flushes.

Usage: ``make = Factory(dbsession)``, then ``make.project()``, ``make.attribute("ROL", "teacher")``.
Every argument has a sensible default; unique names come from a counter.
"""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import select

from migasfree_pyramid.models import (
    Attribute,
    AttributeSet,
    ClientUser,
    Computer,
    Deployment,
    Domain,
    Package,
    PackageSet,
    Platform,
    Project,
    Property,
    Schedule,
    ScheduleDelay,
    Scope,
    Singularity,
    Store,
    UserProfile,
)
from migasfree_pyramid.text import slugify

_counter = itertools.count(1)


class Factory:
    def __init__(self, session):
        self.session = session

    def _add(self, obj):
        self.session.add(obj)
        self.session.flush()
        return obj

    def n(self) -> int:
        return next(_counter)

    def platform(self, name=None):
        return self._add(Platform(name=name or f"platform-{self.n()}"))

    def project(self, name=None, pms="apt", architecture="amd64", platform=None, **kw):
        name = name or f"project-{self.n()}"
        return self._add(
            Project(
                name=name,
                slug=slugify(name),
                pms=pms,
                architecture=architecture,
                platform=platform or self.platform(),
                **kw,
            )
        )

    def store(self, name=None, project=None):
        name = name or f"store-{self.n()}"
        return self._add(Store(name=name, slug=slugify(name), project=project or self.project()))

    def package(
        self,
        name=None,
        version="1.0-1",
        architecture="all",
        project=None,
        store=None,
        fullname=None,
    ):
        name = name or f"pkg{self.n()}"
        project = project or (store.project if store else self.project())
        fullname = fullname or f"{name}_{version}_{architecture}.deb"
        return self._add(
            Package(
                fullname=fullname,
                name=name,
                version=version,
                architecture=architecture,
                project=project,
                store=store,
            )
        )

    def package_set(self, name=None, project=None, store=None, packages=()):
        project = project or (store.project if store else self.project())
        return self._add(
            PackageSet(
                name=name or f"set-{self.n()}",
                project=project,
                store=store,
                packages=list(packages),
            )
        )

    def property(self, prefix=None, sort="server", kind="N", name=None, **kw):
        existing = self.session.scalars(select(Property).where(Property.prefix == prefix)).first()
        if existing is not None:
            return existing
        prefix = prefix or f"Q{self.n() % 100:02d}"
        return self._add(Property(prefix=prefix, name=name or prefix, sort=sort, kind=kind, **kw))

    def attribute(self, prefix="ROL", value=None, sort="server", description=None):
        prop = self.property(prefix, sort=sort)
        value = value if value is not None else f"value-{self.n()}"
        found = self.session.scalars(
            select(Attribute).where(Attribute.property_att_id == prop.id, Attribute.value == value)
        ).first()
        return found or self._add(
            Attribute(property_att=prop, value=value, description=description)
        )

    def all_systems(self):
        return self.attribute("SET", "All Systems", sort="basic")

    def attribute_set(self, name=None, included=(), excluded=(), enabled=True):
        name = name or f"set-{self.n()}"
        obj = self._add(
            AttributeSet(
                name=name,
                enabled=enabled,
                included_attributes=list(included),
                excluded_attributes=list(excluded),
            )
        )
        self.attribute("SET", name, sort="basic")
        return obj

    def singularity(self, prop=None, name=None, priority=1, **kw):
        prop = prop or self.property("HST", sort="client")
        return self._add(
            Singularity(name=name or f"sing-{self.n()}", property_att=prop, priority=priority, **kw)
        )

    def schedule(self, name=None, delays=()):
        """``delays``: iterable of ``(delay, duration, [attributes])``."""
        schedule = self._add(Schedule(name=name or f"schedule-{self.n()}"))
        for delay, duration, attributes in delays:
            self._add(
                ScheduleDelay(
                    schedule=schedule, delay=delay, duration=duration, attributes=list(attributes)
                )
            )
        return schedule

    def domain(self, name=None, included=(), excluded=(), tags=()):
        name = (name or f"domain-{self.n()}").upper()
        domain = self._add(
            Domain(
                name=name,
                included_attributes=list(included),
                excluded_attributes=list(excluded),
                tags=list(tags),
            )
        )
        domain.included_attributes.append(self.attribute("DMN", name, sort="server"))
        self.session.flush()
        return domain

    def scope(self, user, name=None, domain=None, included=(), excluded=()):
        return self._add(
            Scope(
                user=user,
                name=name or f"scope-{self.n()}",
                domain=domain,
                included_attributes=list(included),
                excluded_attributes=list(excluded),
            )
        )

    def deployment(self, name=None, project=None, source="I", included=(), excluded=(), **kw):
        name = name or f"deploy-{self.n()}"
        kw.setdefault("start_date", dt.date.today() - dt.timedelta(days=1))
        return self._add(
            Deployment(
                name=name,
                slug=slugify(name),
                project=project or self.project(),
                source=source,
                included_attributes=list(included),
                excluded_attributes=list(excluded),
                **kw,
            )
        )

    def client_user(self, name=None, fullname=""):
        return self._add(ClientUser(name=name or f"user{self.n()}", fullname=fullname))

    def computer(
        self, name=None, project=None, status="assigned", sync_attributes=(), tags=(), **kw
    ):
        number = self.n()
        return self._add(
            Computer(
                name=name or f"PC{number:05d}",
                uuid=kw.pop("uuid", None) or f"00000000-0000-0000-0000-{number:012d}",
                project=project or self.project(),
                status=status,
                sync_attributes=list(sync_attributes),
                tags=list(tags),
                **kw,
            )
        )

    def user(self, username=None, **kw):
        return self._add(UserProfile(username=username or f"user-{self.n()}", **kw))
