"""The permission matrix (issue 5): every admin endpoint and method, generated from the
registered Cornice services, called by every role on rows inside and outside the north domain.

For each call the expected status follows from the service's declared permission and the
caller's permissions (``DEFAULT_GROUPS``), with the few documented exceptions of
``matrix_rules.EFFECTIVE_PERMISSION`` and the item ACLs of ``matrix_rules.holds``:

- anonymous callers and agents (a valid signed v5 envelope) always get 401;
- a row the caller's scoping hides is a 404 (traversal answers before permissions);
- no permission is a 403; otherwise the rule's success statuses (``Req.ok``).

Every 2xx answer to a restricted caller is then searched for rows they must not see.
The world is built once per resource; every call runs in its own savepoint, rolled back.
"""

from __future__ import annotations

import json

import pytest
from pyramid.security import NO_PERMISSION_REQUIRED

from migasfree_pyramid.api.resource import API_PREFIX
from migasfree_pyramid.crypto.envelope import unwrap, wrap
from migasfree_pyramid.crypto.keystore import SERVER, KeyStore

from . import matrix_rules as rules
from . import matrix_world as mx
from .matrix_world import AGENT, LONELY, NORTH, RESTRICTED, ROLES, SCOPED, SUPERUSER

SKIPPED_METHODS = {"HEAD", "OPTIONS"}
# Roles whose view of the fleet is not restricted see the inside and the outside rows alike:
# they are called on the first case of a plain inside/outside pair only (and on every case of
# the kinds whose visibility is ownership: scopes and accounts).
ALL_CASES_ROLES = {SUPERUSER, *RESTRICTED}
OWNERSHIP_KINDS = {"scope", "userprofile"}
# -- known server bugs: each a strict xfail, with the fix we propose --------------------------

# (service, method, role, case) patterns ("*" matches anything) -> what is wrong. Each is run by
# ``test_known_bug`` and left out of ``test_matrix``.
KNOWN_BUGS: dict[tuple[str, str, str, str], str] = {}


# -- inventory ----------------------------------------------------------------------------------


def token_services(registry) -> dict[str, tuple[str, dict[str, str]]]:
    """``{service name: (path, {method: declared permission})}`` under the token prefix."""
    found = {}
    for service in registry.cornice_services.values():
        if not service.path.startswith(API_PREFIX):
            continue
        methods = {
            method: str(args.get("permission"))
            for method, _view, args in service.definitions
            if method not in SKIPPED_METHODS
        }
        found[service.name] = (service.path, methods)
    return found


def group_of(name: str) -> str:
    """The resource a service belongs to (``deployments.internal-sources.action.copy`` →
    ``deployments.internal-sources``)."""
    if ".action." in name:
        return name.split(".action.")[0]
    return name.rsplit(".", 1)[0]


GROUPS = sorted({group_of(name) for name in rules.RULES})


def test_every_endpoint_has_a_rule(registry):
    """A new endpoint (or method) without a rule fails here, and so does a stale rule."""
    registered = {
        (name, method)
        for name, (_path, methods) in token_services(registry).items()
        for method in methods
    }
    ruled = {(name, method) for name, methods in rules.RULES.items() for method in methods}
    assert sorted(registered - ruled) == [], "endpoints without a matrix rule"
    assert sorted(ruled - registered) == [], "matrix rules for endpoints that no longer exist"


def test_login_routes_are_known(registry):
    """The admin side's non-token routes: exactly the login endpoints, open to everyone."""
    outside = {
        service.name: service
        for service in registry.cornice_services.values()
        if not service.path.startswith(("/api/v1/token/", "/api/v1/public/", "/api/v1/safe/"))
    }
    assert {name: service.path for name, service in outside.items()} == rules.AUTH_SERVICES
    for service in outside.values():
        assert [(m, str(a["permission"])) for m, _v, a in service.definitions] == [
            ("POST", NO_PERMISSION_REQUIRED)
        ]


@pytest.mark.parametrize("path", sorted(rules.AUTH_SERVICES.values()))
def test_login_routes_validate_before_anything(path, client, envelope):
    """Anonymous callers and agents reach the login routes, which want credentials (400)."""
    assert client.post(path, {}, as_="anonymous").status_int == 400
    agent = client.app.post(path, envelope, content_type="application/json", status="*")
    assert agent.status_int == 400


def test_matrix_size(registry, capsys):
    """The size of the matrix, for the record (shown even without ``-s``)."""
    services = token_services(registry)
    pairs = sum(len(methods) for _path, methods in services.values())
    calls = list(matrix_calls(services))
    on_rows = sum(1 for _s, _m, _r, case in calls if case is not None)
    with capsys.disabled():
        print(
            f"\npermission matrix: {len(services)} endpoints, {pairs} endpoint x method pairs, "
            f"{len(ROLES)} roles -> {len(calls)} calls ({on_rows} of them on a row inside or "
            f"outside the domain), {len(KNOWN_BUGS)} known-bug patterns"
        )
    assert len(calls) >= pairs * len(ROLES)


def test_known_bugs_are_matrix_calls(registry):
    """Every known-bug pattern covers calls of the matrix (else its xfail would prove nothing)."""
    services = token_services(registry)
    for pattern in KNOWN_BUGS:
        assert any(True for _ in matrix_calls(services, pattern=pattern)), pattern


# -- calling ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory):
    """RSA pairs are slow to make: one keys directory for the module."""
    return str(tmp_path_factory.mktemp("matrix-keys"))


@pytest.fixture
def agent_keys(_isolated_dirs, keys_dir, registry, monkeypatch) -> KeyStore:
    monkeypatch.setitem(registry.settings, "migasfree.keys_dir", keys_dir)
    return KeyStore(keys_dir)


def sign(keys: KeyStore, claims) -> str:
    """The body of a safe request from a computer of the project sc-debian (the world's)."""
    msg = wrap(claims, keys.private("sc-debian"), keys.public(SERVER))
    return json.dumps({"msg": msg, "project": "sc-debian"})


@pytest.fixture
def envelope(agent_keys):
    """A valid signed v5 envelope of the north project's key (an agent's credentials)."""
    return sign(agent_keys, {"id": 1})


@pytest.fixture
def mw(client, make, dbsession, world):
    return mx.build(client, make, dbsession, world)


class Caller:
    """Calls the app as a role; each call in a savepoint that is rolled back afterwards."""

    def __init__(self, client, dbsession, mw, envelope):
        self.client, self.session, self.mw, self.envelope = client, dbsession, mw, envelope
        self.headers = {role: client.headers(user) for role, user in mw.users.items()}

    def __call__(self, role, method, url, body):
        app, session = self.client.app, self.session
        savepoint = session.begin_nested()
        # A view that hits a constraint rolls the session back (api.resource.flush_or_conflict);
        # in production that is the request's own transaction: here, the call's savepoint.
        session.rollback = savepoint.rollback
        try:
            if role == AGENT:
                return app.request(
                    url,
                    method=method,
                    body=self.envelope.encode(),
                    content_type="application/json",
                    expect_errors=True,
                )
            headers = self.headers[role]
            if method in ("GET", "DELETE"):
                return getattr(app, method.lower())(url, headers=headers, status="*")
            send = getattr(app, f"{method.lower()}_json")
            return send(url, body, headers=headers, status="*")
        finally:
            del session.rollback
            if savepoint.is_active:
                savepoint.rollback()


def url_for(mw, path, role, case) -> str:
    if case is None:
        return path
    pk = mw.user_id(role) if case == "self" else mw.objs[case].id
    return path.replace(r"{id:\d+}", str(pk))


def top_kind(registry, service: str) -> str | None:
    """The kind of the rows an answer of ``service`` is made of (its list rows or its detail),
    or None when its top level is not rows of one kind (counts, labels, states...)."""
    if service in rules.SERVICE_KIND:
        return rules.SERVICE_KIND[service]
    if not service.endswith((".collection", ".filter", ".item")):
        return None
    group = group_of(service)
    for resource in registry["migasfree.resources"]:
        if resource.path.replace("/", ".") == group:
            return resource.model.__name__.lower()
    return None


# -- the matrix ---------------------------------------------------------------------------------


def run_case(call, mw, services, service, method, role, case):
    """One call: ``(status, expected statuses, leak messages)``."""
    path, methods = services[service]
    req = rules.RULES[service][method]
    want = rules.expected(mw, role, service, method, methods[method], req, case)
    body = rules.resolve(req.body, mw) if method in ("POST", "PUT", "PATCH") else None
    response = call(role, method, url_for(mw, path, role, case), body)
    found = []
    if role in RESTRICTED and 200 <= response.status_int < 300 and response.body:
        found = mx.leaks(mw, role, top_kind(call.client.registry, service), response)
    return response, want, found


def describe(mw, path, method, role, case, response, want) -> str:
    text = response.text[:160].replace("\n", " ") if response.status_int != 200 else ""
    return (
        f"{role:12} {method:6} {url_for(mw, path, role, case)} [{case}]: "
        f"{response.status_int}, expected {sorted(want)} {text}"
    )


def matches(pattern, key) -> bool:
    return all(p in ("*", k) for p, k in zip(pattern, key, strict=True))


def known_bug(key) -> bool:
    return any(matches(pattern, key) for pattern in KNOWN_BUGS)


def case_kind(case: str) -> str:
    return "userprofile" if case == "self" else case.split(".")[0]


def matrix_calls(services, group=None, pattern=None):
    """The (service, method, role, case) calls of the matrix, in order."""
    for service in sorted(rules.RULES):
        if service not in services or (group and group_of(service) != group):
            continue  # a missing service is reported by test_every_endpoint_has_a_rule
        for method, req in rules.RULES[service].items():
            for role in ROLES:
                for i, case in enumerate(req.cases or (None,)):
                    uniform = role not in ALL_CASES_ROLES
                    if uniform and i and case_kind(case) not in OWNERSHIP_KINDS:
                        continue
                    key = (service, method, role, case)
                    if pattern is None or matches(pattern, key):
                        yield key


def run_calls(call, mw, services, keys) -> list[str]:
    failures = []
    for service, method, role, case in keys:
        response, want, found = run_case(call, mw, services, service, method, role, case)
        if response.status_int not in want or found:
            path = services[service][0]
            failures.append(describe(mw, path, method, role, case, response, want))
            failures[-1] += f"; LEAK {found}" if found else ""
    return failures


@pytest.mark.parametrize("group", GROUPS)
def test_matrix(group, registry, client, dbsession, mw, envelope):
    services = token_services(registry)
    keys = [k for k in matrix_calls(services, group) if not known_bug(k)]
    failures = run_calls(Caller(client, dbsession, mw, envelope), mw, services, keys)
    assert not failures, f"{len(failures)} failing calls:\n" + "\n".join(failures)


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param(key, marks=pytest.mark.xfail(strict=True, reason=why), id="-".join(key))
        for key, why in KNOWN_BUGS.items()
    ],
)
def test_known_bug(pattern, registry, client, dbsession, mw, envelope):
    """A known bug fails while any call it covers is still wrong; strict, so fixing them all
    makes it XPASS and fail, to have the entry removed."""
    services = token_services(registry)
    keys = list(matrix_calls(services, pattern=pattern))
    failures = run_calls(Caller(client, dbsession, mw, envelope), mw, services, keys)
    assert not failures, "\n".join(failures)


def test_the_agent_credentials_are_valid(client, mw, agent_keys):
    """The agent's keys work where agents belong, so its 401s above mean something."""
    n1 = mw.base.computers["n1"]
    body = sign(agent_keys, {"uuid": n1.uuid, "name": n1.name})
    response = client.app.post(
        "/api/v1/safe/computers/id/", body, content_type="application/json", status="*"
    )
    reply = unwrap(response.json["msg"], agent_keys.private("sc-debian"), agent_keys.public(SERVER))
    assert (response.status_int, reply) == (200, n1.id)


def test_restricted_callers_are_really_restricted(client, mw):
    """Sanity of the world: what each restricted caller sees of the computers."""
    c = mw.base.computers
    seen = {}
    for role in RESTRICTED:
        response = client.get(f"{API_PREFIX}computers/", as_=mw.users[role])
        seen[role] = sorted(row["id"] for row in response.json["results"])
    assert seen == {
        mx.NORTH: sorted([c["n1"].id, c["n2"].id]),
        mx.SCOPED: [c["n1"].id],
        LONELY: [],
    }


# -- beyond the status codes --------------------------------------------------------------------


@pytest.mark.parametrize("role", RESTRICTED)
def test_attribute_totals_count_only_visible_computers(role, client, mw):
    """total_computers of an attribute counts the caller's computers only (spec C.3)."""
    everyone = mw.objs["attribute.everyone"].id
    detail = client.get(f"{API_PREFIX}features/{everyone}/", as_=mw.users[role])
    computers = client.get(f"{API_PREFIX}computers/", as_=mw.users[role]).json["count"]
    assert detail.status_int == (404 if role == LONELY else 200)
    if role != LONELY:
        assert detail.json["total_computers"] == computers


@pytest.mark.parametrize("role", RESTRICTED)
def test_schedule_delay_counts_count_only_visible_delays(role, client, mw):
    """delays_count agrees with what schedule-delays/ lists to the same caller."""
    schedule, user = mw.objs["schedule.any"].id, mw.users[role]
    visible = client.get(f"{API_PREFIX}schedule-delays/?schedule__id={schedule}", as_=user)
    detail = client.get(f"{API_PREFIX}schedules/{schedule}/", as_=user).json
    listed = client.get(f"{API_PREFIX}schedules/?id={schedule}", as_=user).json["results"]
    assert detail["delays_count"] == listed[0]["delays_count"] == visible.json["count"]


def _probes(o):
    """Writes a delegated admin may make, each naming a row outside their view."""
    north, south_ctr = o["deployment.north"].id, o["attribute.south_ctr"].id
    return [
        ("PATCH", f"deployments/{north}/", {"included_attributes": [south_ctr]}, 400),
        ("PATCH", f"deployments/{north}/", {"excluded_attributes": [o["attribute.kiosk"].id]}, 400),
        ("PATCH", f"deployments/{north}/", {"available_packages": [o["package.s"].id]}, 400),
        ("PATCH", f"deployments/{north}/", {"project": o["project.ubuntu"].id}, 400),
        ("PATCH", f"deployments/{north}/", {"domain": o["domain.south"].id}, 400),
        ("POST", "deployments/", {"project": o["project.ubuntu"].id, "name": "x"}, 400),
        ("POST", "scopes/", {"name": "x", "domain": o["domain.south"].id}, 400),
        ("POST", "scopes/", {"name": "x", "included_attributes": [south_ctr]}, 400),
        (
            "POST",
            f"deployments/internal-sources/{north}/copy/",
            {"project": o["project.ubuntu"].id},
            404,
        ),
        (
            "PATCH",
            "user-profiles/{me}/preferences/",
            {"scope_preference": o["scope.south"].id},
            400,
        ),
        (
            "PATCH",
            "user-profiles/{me}/preferences/",
            {"domain_preference": o["domain.south"].id},
            400,
        ),
    ]


@pytest.mark.parametrize("role", [NORTH, SCOPED])
def test_writes_naming_outside_rows_are_refused(role, client, mw):
    """Outside rows named in a body are as absent as they are in lists: 400 (404 for the copy
    target), like ids that do not exist."""
    user = mw.users[role]
    wrong = []
    for method, path, body, status in _probes(mw.objs):
        url = API_PREFIX + path.replace("{me}", str(user.id))
        response = client.call(method, url, as_=user, json=body)
        if response.status_int != status:
            wrong.append(f"{method} {url} {body}: {response.status_int} {response.text[:200]}")
    assert not wrong, "\n".join(wrong)
