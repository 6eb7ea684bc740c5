"""Fill a PostgreSQL database with a realistic fleet for the admin-list benchmark.

    .venv/bin/python bench/fleet.py --computers 100000        # migasfree_bench_fleet
    .venv/bin/python bench/fleet.py --computers 10000 --database migasfree_bench_fleet_10k

The database is created anew, migrated (``upgrade heads``) and seeded exactly as a new server's,
then filled server-side with ``generate_series`` (nothing crosses the wire): computers, their
sync attributes and tags, desktop users, 200 deployments, schedules, two domains (~1% and ~10%
of the fleet), synchronizations, errors, faults, status logs, migrations and package history.
Every value derives from the row number through a hash, so two runs at one size are identical.

Idempotent: a finished fill leaves its size in the database comment; a run that finds the same
size only applies new migrations (new indexes) and stops. ``--force`` refills.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from migasfree_pyramid.security.tokens import hash_key

ROOT = Path(__file__).resolve().parent.parent
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/"
DEFAULT_DATABASE = "migasfree_bench_fleet"
GENERATOR_VERSION = 1
USERS = {"superuser": "bench-super", "lab": "bench-lab", "north": "bench-north"}
# (name, pms, architecture, platform index, share of the fleet in %)
PROJECTS = (
    ("debian-11", "apt", "amd64", 0, 5),
    ("debian-12", "apt", "amd64", 0, 40),
    ("ubuntu-24.04", "apt", "amd64", 1, 30),
    ("fedora-40", "dnf", "x86_64", 2, 15),
    ("windows-11", "wpt", "x64", 3, 10),
)
PLATFORMS = ("Debian", "Ubuntu", "Fedora", "Windows")
PACKAGES_PER_PROJECT = 4000
PCI_VALUES, ROLES, LOCATIONS = 300, 20, 200
# The tables the bulk load fills: their secondary indexes are built once, after loading.
BULK_TABLES = (
    "core_attribute",
    "client_computer",
    "client_computer_sync_attributes",
    "client_computer_tags",
    "client_synchronization",
    "client_error",
    "client_fault",
    "client_statuslog",
    "client_migration",
    "client_packagehistory",
)


def database_url(database: str, server: str = SERVER) -> str:
    return make_url(server).set(database=database).render_as_string(hide_password=False)


def api_key(database: str, username: str) -> str:
    """The API token of a bench user: derived, so that the benchmark (in-process or against a
    running server) can authenticate without storing secrets. Bench databases only."""
    return hashlib.sha256(f"bench-fleet:{database}:{username}".encode()).hexdigest()[:40]


def app_settings(url: str) -> dict:
    """Settings of an in-process app on the bench database (production's addons)."""
    var = tempfile.mkdtemp(prefix="migasfree-bench-")
    return {
        "sqlalchemy.url": url,
        "migasfree.addons": os.environ.get("MIGASFREE_BENCH_ADDONS", "clients").split(),
        "migasfree.redis_url": os.environ.get("MIGASFREE_BENCH_REDIS", "redis://127.0.0.1:6379/14"),
        "migasfree.var_dir": var,
        "migasfree.public_dir": f"{var}/public",
        "migasfree.keys_dir": f"{var}/keys",
        "migasfree.jwt_secret": "bench-secret-bench-secret-bench-secret-0123456",
        "migasfree.docs": "false",
        "huey.backend": "immediate",
        "here": str(ROOT),
    }


def psql_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def fleet_marker(url: str) -> dict | None:
    """The size a finished fill recorded in the database comment, or None."""
    parsed = make_url(url)
    admin = psql_url(parsed.set(database="postgres").render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (parsed.database,),
        ).fetchone()
    if row is None:
        return None
    try:
        return json.loads(row[0] or "")
    except ValueError:
        return {}


def recreate(url: str) -> None:
    parsed = make_url(url)
    admin = psql_url(parsed.set(database="postgres").render_as_string(hide_password=False))
    name = sql.Identifier(parsed.database)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def migrate_and_seed(url: str) -> None:
    """Exactly what a new server does: ``upgrade heads`` and the initial data."""
    from migasfree_pyramid import make_config
    from migasfree_pyramid.db import ENGINE_KEY, make_engine
    from migasfree_pyramid.initial_data import seed
    from migasfree_pyramid.scripts.migrate import upgrade

    engine = make_engine(url)
    settings = app_settings(url)
    upgrade(str(ROOT / "production.ini"), url=url, engine=engine, settings=settings)
    config = make_config({**settings, ENGINE_KEY: engine})
    with Session(engine) as session, session.begin():
        seed(session, config.registry)
    engine.dispose()


class Loader:
    """One autocommit connection that runs the steps and reports each one's time."""

    def __init__(self, url: str, params: dict):
        self.conn = psycopg.connect(psql_url(url), autocommit=True)
        self.params = params
        self.started = time.perf_counter()
        self.rows = 0

    def run(self, label: str, statement: str, **extra) -> int:
        """Run one statement with the shared parameters (psycopg ignores those it does not
        use) and report its rows and time."""
        began = time.perf_counter()
        count = max(self.conn.execute(statement, {**self.params, **extra}).rowcount, 0)
        self.rows += count
        print(
            f"  {label:<40.40} {count:>11,} rows {time.perf_counter() - began:7.1f} s"
            f"   (total {time.perf_counter() - self.started:6.0f} s)",
            flush=True,
        )
        return count

    def steps(self, steps) -> None:
        for label, statement in steps:
            self.run(label, statement)

    def chunked(self, label: str, statement: str, parts: int) -> None:
        """Run ``statement`` over ranges of computer ids (``%(lo)s``..``%(hi)s``)."""
        n = self.params["n"]
        step = -(-n // parts)
        for lo in range(1, n + 1, step):
            hi = min(n, lo + step - 1)
            self.run(f"{label} {hi * 100 // n:>3}%", statement, lo=lo, hi=hi)


def attribute_blocks(first: int, n: int) -> dict[str, int]:
    """First id of each block of generated attributes (ids follow the seeded rows)."""
    sizes = {
        "PRJ": len(PROJECTS),
        "PLT": len(PLATFORMS),
        "NET": -(-n // 50),
        "PCI": PCI_VALUES,
        "ROL": ROLES,
        "LOC": LOCATIONS,
        "DMN": 2,
        "SET": 1,
        "USR": max(1, n // 3),
        "CID": n,
        "IP": n,
        "HST": n,
    }
    blocks = {"nets": sizes["NET"], "users": sizes["USR"]}
    for name, size in sizes.items():
        blocks[name] = first
        first += size
    return blocks


def steps(script: str) -> tuple[tuple[str, str], ...]:
    """``(label, statement)`` pairs of a script where each statement follows a ``-- label``."""
    chunks = script.split("\n-- ")[1:]
    return tuple((c.partition("\n")[0], c.partition("\n")[2].strip()) for c in chunks)


def table(text: str) -> list[list[str]]:
    """Rows of `` ; ``-separated fields; an indented line continues the previous row."""
    rows: list[str] = []
    for line in text.strip().splitlines():
        if line[:1].isspace():
            rows[-1] += " " + line.strip()
        else:
            rows.append(line)
    return [[field.strip() for field in row.split(" ; ")] for row in rows]


# Every statement takes its values from one parameter dict (``fill``); ``%%`` is a literal
# percent sign for psycopg. Per computer, a temporary ``plan`` row holds the choices (project,
# status, network, desktop user, role, domains, number of PCI devices) later tables share.
RANDOM = """
CREATE FUNCTION pg_temp.rnd(i bigint, salt int, m int) RETURNS int
LANGUAGE sql IMMUTABLE AS $$ SELECT ((hashint8(i * 1000003 + salt) & 2147483647) %% m)::int $$
"""
CATALOG = steps("""
-- tag properties
INSERT INTO core_property (prefix, name, enabled, kind, sort, auto_add, language)
VALUES ('ROL', 'Role', true, 'N', 'server', true, 0), ('LOC', 'Location', true, 'N', 'server',
true, 0), ('DMN', 'DOMAIN', true, 'L', 'server', true, 0) ON CONFLICT (prefix) DO NOTHING
-- platforms
INSERT INTO core_platform (id, name) SELECT k, (%(platforms)s::text[])[k]
FROM generate_series(1, cardinality(%(platforms)s::text[])) k
-- projects
INSERT INTO core_project (id, name, slug, pms, architecture, auto_register_computers,
platform_id) SELECT k, (%(names)s::text[])[k], (%(names)s::text[])[k], (%(pms)s::text[])[k],
(%(arch)s::text[])[k], false, (%(plt)s::int[])[k] + 1
FROM generate_series(1, cardinality(%(names)s::text[])) k
-- stores
INSERT INTO core_store (id, name, slug, project_id) SELECT id, 'main', 'main', id
FROM core_project
-- packages
INSERT INTO core_package (id, fullname, name, version, architecture, project_id, store_id)
SELECT (p.id - 1) * %(per)s + k + 1,
format('pkg%%s_%%s.%%s-1_%%s.deb', k, 1 + k %% 5, k %% 10, p.architecture), 'pkg' || k,
format('%%s.%%s-1', 1 + k %% 5, k %% 10), p.architecture, p.id, CASE WHEN k < 100 THEN p.id END
FROM core_project p CROSS JOIN generate_series(0, %(per)s - 1) k
""")
# Attribute blocks, "name (the property prefix) ; how many ; value ; description" of number k;
# an indented line continues the previous one.
ATTRIBUTES = """
PRJ ; %(projects)s ; (%(names)s::text[])[k + 1] ; NULL
PLT ; %(nplatforms)s ; (%(platforms)s::text[])[k + 1] ; NULL
NET ; %(nets)s ; format('10.%%s.%%s.0/24', k / 256, k %% 256) ; NULL
PCI ; 300 ; format('%%s:%%s', to_hex(4096 + k * 7), lpad(to_hex(k * 131 %% 65536), 4, '0'))
    ; 'PCI device ' || k
ROL ; 20 ; CASE k WHEN 0 THEN 'kiosk' ELSE 'role-' || k END ; ''
LOC ; 200 ; 'building-' || k ; ''
DMN ; 2 ; (ARRAY['LAB', 'NORTH'])[k + 1] ; ''
SET ; 1 ; 'Kiosks' ; ''
USR ; %(users)s ; 'u' || (k + 1) ; 'User ' || (k + 1)
CID ; %(n)s ; (k + 1)::text ; format('pc-%%s', lpad((k + 1)::text, 6, '0'))
IP ; %(n)s ; format('10.%%s.%%s.%%s', k / 50 / 256, k / 50 %% 256, 10 + k %% 50) ; NULL
HST ; %(n)s ; format('pc-%%s', lpad((k + 1)::text, 6, '0')) ; NULL
"""
PLAN = steps("""
-- plan
CREATE TEMP TABLE plan AS
SELECT i AS id, prj, (%(plt)s::int[])[prj + 1] AS plt,
       CASE WHEN st < 900 THEN 'assigned' WHEN st < 930 THEN 'reserved'
            WHEN st < 950 THEN 'unknown' WHEN st < 970 THEN 'in repair'
            WHEN st < 990 THEN 'available' ELSE 'unsubscribed' END AS status,
       (i - 1) / 50 AS net, usr, rol, ((i - 1) / 50) %% 200 AS loc, lab = 7 AS lab,
       ((i - 1) / 50) %% 10 = 3 AND rol <> 0 AS north, 4 + npci AS npci
FROM (SELECT i, CASE WHEN p < 5 THEN 0 WHEN p < 45 THEN 1 WHEN p < 75 THEN 2
                     WHEN p < 90 THEN 3 ELSE 4 END AS prj,
             pg_temp.rnd(i, 2, 1000) AS st, pg_temp.rnd(i, 3, %(users)s) AS usr,
             pg_temp.rnd(i, 4, 20) AS rol, pg_temp.rnd(i, 5, 100) AS lab,
             pg_temp.rnd(i, 6, 7) AS npci
      FROM (SELECT i, pg_temp.rnd(i, 1, 100) AS p FROM generate_series(1, %(n)s) i) s) t
-- plan index
CREATE UNIQUE INDEX ON plan (id)
-- plan statistics
ANALYZE plan
-- attribute set Kiosks
INSERT INTO core_attributeset (id, name, description, enabled) VALUES (1, 'Kiosks', '', true)
-- attribute set rule
INSERT INTO core_attributeset_included_attributes VALUES (1, %(ROL)s)
-- client users
INSERT INTO client_user (id, name, fullname)
SELECT k, 'u' || k, 'User ' || k FROM generate_series(1, %(users)s) k
-- computers
INSERT INTO client_computer (id, uuid, status, name, fqdn, project_id, created_at, updated_at,
ip_address, sync_start_date, sync_end_date, sync_user_id, product, machine, cpu, ram, storage,
disks, mac_address, last_hardware_capture)
SELECT p.id, md5('computer-' || p.id)::uuid::text, p.status, h.name, h.name || '.example.org',
p.prj + 1, now() - make_interval(days => 30 + p.id %% 700), s.last,
format('10.%%s.%%s.%%s', p.net / 256, p.net %% 256, 10 + (p.id - 1) %% 50),
s.last - interval '95 seconds', s.last, p.usr + 1,
CASE WHEN p.id %% 9 = 0 THEN 'KVM' ELSE (ARRAY['OptiPlex 7090', 'ThinkCentre M70q',
'EliteDesk 800 G6', 'Latitude 5420'])[1 + p.id %% 4] END,
CASE WHEN p.id %% 9 = 0 THEN 'V' ELSE 'P' END, 'Intel(R) Core(TM) i5-10500 CPU',
8589934592 * (1 + p.id %% 4), 256060514304 * (1 + p.id %% 2), 1,
upper(substr(md5('mac-' || p.id), 1, 12)), s.last - interval '20 days'
FROM plan p, LATERAL (SELECT format('pc-%%s', lpad(p.id::text, 6, '0')) AS name) h,
LATERAL (SELECT CASE WHEN p.status IN ('assigned', 'reserved', 'unknown')
  THEN now() - make_interval(mins => pg_temp.rnd(p.id, 9, 1440))
  ELSE now() - make_interval(days => 30 + pg_temp.rnd(p.id, 9, 300)) END AS last) s
""")
# One statement per kind of sync attribute, "label ; query": 15 to 21 per computer.
SYNC_ATTRIBUTES = """
CID ; SELECT id, %(CID)s + id - 1 FROM plan
PRJ ; SELECT id, %(PRJ)s + prj FROM plan
PLT ; SELECT id, %(PLT)s + plt FROM plan
IP ; SELECT id, %(IP)s + id - 1 FROM plan
USR ; SELECT id, %(USR)s + usr FROM plan
HST ; SELECT id, %(HST)s + id - 1 FROM plan
NET ; SELECT id, %(NET)s + net FROM plan
PCI ; SELECT id, %(PCI)s + (id * 7 + k * 37) %% 300 FROM plan, generate_series(0, 9) k
    WHERE k < npci
SET-All Systems ; SELECT id, %(all_systems)s FROM plan
ROL ; SELECT id, %(ROL)s + rol FROM plan
LOC ; SELECT id, %(LOC)s + loc FROM plan
SET-Kiosks ; SELECT id, %(SET)s FROM plan WHERE rol = 0
DMN-LAB ; SELECT id, %(DMN)s FROM plan WHERE lab
DMN-NORTH ; SELECT id, %(DMN)s + 1 FROM plan WHERE north
"""
# Retired computers have no tags (spec B.8). Domain LAB: the computers tagged DMN-LAB (1%);
# NORTH: every tenth network but its kiosks (about 10%).
RULES = steps("""
-- tags
INSERT INTO client_computer_tags (computer_id, attribute_id)
SELECT id, %(ROL)s + rol FROM plan WHERE status NOT IN ('available', 'unsubscribed')
UNION ALL SELECT id, %(LOC)s + loc FROM plan WHERE status NOT IN ('available', 'unsubscribed')
UNION ALL SELECT id, %(DMN)s FROM plan WHERE status NOT IN ('available', 'unsubscribed') AND lab
-- schedules
INSERT INTO core_schedule (name, description)
SELECT 'bench-rollout-' || k, '' FROM generate_series(1, 3) k
-- schedule delays
INSERT INTO core_scheduledelay (delay, schedule_id, duration) SELECT d, s.id, 2
FROM core_schedule s CROSS JOIN unnest(ARRAY[0, 2, 5, 10]) d WHERE s.name LIKE 'bench-%%'
-- schedule delay attributes
INSERT INTO core_scheduledelay_attributes (scheduledelay_id, attribute_id)
SELECT sd.id, a FROM core_scheduledelay sd JOIN core_schedule s ON s.id = sd.schedule_id,
LATERAL unnest(CASE sd.delay
  WHEN 0 THEN ARRAY(SELECT %(LOC)s + g FROM generate_series(0, 9) g)
  WHEN 2 THEN ARRAY(SELECT %(ROL)s + g FROM generate_series(1, 5) g)
  WHEN 5 THEN ARRAY(SELECT %(NET)s + g FROM generate_series(0, least(19, %(nets)s - 1)) g)
  ELSE ARRAY[%(all_systems)s] END) a WHERE s.name LIKE 'bench-%%'
-- domains
INSERT INTO core_domain (id, name, comment) VALUES (1, 'LAB', 'about 1%%'),
(2, 'NORTH', 'about 10%%')
-- domain rules
INSERT INTO core_domain_included_attributes (domain_id, attribute_id)
SELECT 1, %(DMN)s UNION ALL SELECT 2, %(DMN)s + 1 UNION ALL
SELECT 2, %(NET)s + n FROM generate_series(0, %(nets)s - 1) n WHERE n %% 10 = 3
-- domain exclusions
INSERT INTO core_domain_excluded_attributes (domain_id, attribute_id) VALUES (2, %(ROL)s)
-- domain tags
INSERT INTO core_domain_tags (domain_id, attribute_id)
SELECT 1, %(DMN)s UNION ALL SELECT 1, %(ROL)s + g FROM generate_series(1, 3) g
UNION ALL SELECT 2, %(DMN)s + 1 UNION ALL SELECT 2, %(LOC)s + g
FROM generate_series(0, 199) g WHERE g %% 10 = 3
-- deployments
INSERT INTO core_deployment (id, enabled, name, slug, project_id, domain_id,
packages_to_install, packages_to_remove, schedule_id, start_date, auto_restart, source,
base_url, suite, components, frozen, expire)
SELECT d, d %% 17 <> 0, n.name, n.name, 1 + d %% 5, CASE d %% 10 WHEN 1 THEN 1 WHEN 2 THEN 2 END,
format(E'pkg%%s\\npkg%%s', d, d + 1), CASE WHEN d %% 3 = 0 THEN 'pkg' || (d + 2) END,
CASE WHEN d %% 4 = 0 THEN s.ids[1 + d / 4 %% cardinality(s.ids)] END, current_date - d %% 60,
false, CASE WHEN d %% 8 = 7 THEN 'E' ELSE 'I' END,
CASE WHEN d %% 8 = 7 THEN 'http://deb.debian.org/debian' END,
CASE WHEN d %% 8 = 7 THEN 'bookworm' END, CASE WHEN d %% 8 = 7 THEN 'main' END, true, 1440
FROM generate_series(1, 200) d, (SELECT array_agg(id ORDER BY id) AS ids FROM core_schedule) s,
LATERAL (SELECT CASE d %% 10 WHEN 1 THEN 'lab_' WHEN 2 THEN 'north_' ELSE '' END
  || 'deploy-' || lpad(d::text, 3, '0') AS name) n
-- deployment included attributes
INSERT INTO core_deployment_included_attributes (deployment_id, attribute_id)
SELECT DISTINCT d, a FROM generate_series(1, 200) d, LATERAL unnest(CASE d %% 5
  WHEN 0 THEN ARRAY[%(all_systems)s] WHEN 1 THEN ARRAY[%(PRJ)s + d %% 5]
  WHEN 2 THEN ARRAY[%(NET)s + d * 7 %% %(nets)s, %(NET)s + (d * 7 + 1) %% %(nets)s,
                    %(NET)s + (d * 7 + 2) %% %(nets)s]
  WHEN 3 THEN ARRAY[%(ROL)s + 1 + d %% 19, %(LOC)s + d %% 200]
  ELSE ARRAY[%(CID)s + d * 37 %% %(n)s, %(CID)s + (d * 37 + 1) %% %(n)s] END
  || CASE d %% 10 WHEN 1 THEN ARRAY[%(DMN)s] WHEN 2 THEN ARRAY[%(DMN)s + 1]
     ELSE ARRAY[]::int[] END) a
-- deployment excluded attributes
INSERT INTO core_deployment_excluded_attributes (deployment_id, attribute_id)
SELECT d, %(ROL)s FROM generate_series(1, 200) d WHERE d %% 3 = 0 UNION
SELECT d, %(CID)s + d * 53 %% %(n)s FROM generate_series(1, 200) d WHERE d %% 7 = 0
-- deployment packages
INSERT INTO core_deployment_available_packages (deployment_id, package_id)
SELECT d.id, (d.project_id - 1) * %(per)s + 1 + (d.id * 3 + j) %% 100
FROM core_deployment d CROSS JOIN generate_series(0, 9) j WHERE d.source = 'I'
-- bench users
INSERT INTO core_userprofile (username, password, email, first_name, last_name, is_active,
is_staff, is_superuser, date_joined, domain_preference_id)
VALUES (%(superuser)s, '!', '', '', '', true, true, true, now(), NULL),
(%(lab)s, '!', '', '', '', true, true, false, now(), 1),
(%(north)s, '!', '', '', '', true, true, false, now(), 2)
-- bench users' domains
INSERT INTO core_userprofile_domains (userprofile_id, domain_id)
SELECT id, domain_preference_id FROM core_userprofile WHERE domain_preference_id IS NOT NULL
-- bench users' groups
INSERT INTO core_userprofile_groups (userprofile_id, group_id) SELECT u.id, g.id
FROM core_userprofile u CROSS JOIN auth_group g
WHERE u.domain_preference_id IS NOT NULL AND g.name IN ('Reader', 'Domain Admin')
-- API tokens
INSERT INTO core_apitoken (user_id, key_hash, created)
SELECT u.id, k.hash, now() FROM core_userprofile u
JOIN unnest(%(usernames)s::text[], %(hashes)s::text[]) k (username, hash)
ON k.username = u.username
-- fault definitions
INSERT INTO client_faultdefinition (id, name, description, enabled, language, code)
SELECT k, 'fault-' || k, 'Bench fault ' || k, true, 0, 'echo' FROM generate_series(1, 6) k
""")
SYNCHRONIZATIONS = """
INSERT INTO client_synchronization (id, created_at, computer_id, start_date, user_id,
project_id, consumer, pms_status_ok)
SELECT (c.id - 1) * %(syncs)s + k + 1, c.sync_end_date - make_interval(hours => 6 * k), c.id,
c.sync_end_date - make_interval(hours => 6 * k, secs => 95), c.sync_user_id, c.project_id,
'migasfree-client 5.0', (c.id + k) %% 50 <> 0
FROM client_computer c CROSS JOIN generate_series(0, %(syncs)s - 1) k
WHERE c.id BETWEEN %(lo)s AND %(hi)s"""
# Errors (0-6 per computer) and faults (0-4), each of one of the computer's synchronizations.
EVENTS = steps("""
-- errors
INSERT INTO client_error (created_at, computer_id, description, checked, project_id,
synchronization_id)
SELECT c.sync_end_date - make_interval(hours => 6 * s.j), c.id,
format(E'E: dpkg was interrupted, you must manually run dpkg --configure -a (%%s)\\n'
'E: Sub-process /usr/bin/dpkg returned an error code (1) on pkg%%s', k, c.id %% 4000),
pg_temp.rnd(c.id * 8 + k, 13, 10) < 7, c.project_id, (c.id - 1) * %(syncs)s + s.j + 1
FROM client_computer c CROSS JOIN generate_series(0, 5) k,
LATERAL (SELECT pg_temp.rnd(c.id * 8 + k, 12, %(syncs)s) AS j) s
WHERE k < pg_temp.rnd(c.id, 11, 7)
-- faults
INSERT INTO client_fault (created_at, computer_id, fault_definition_id, result, checked,
project_id, synchronization_id)
SELECT c.sync_end_date - make_interval(hours => 6 * s.j), c.id,
1 + pg_temp.rnd(c.id * 8 + k, 14, 6), format('disk /dev/sda1 at %%s%%%%', 90 + k),
pg_temp.rnd(c.id * 8 + k, 15, 10) < 5, c.project_id, (c.id - 1) * %(syncs)s + s.j + 1
FROM client_computer c CROSS JOIN generate_series(0, 5) k,
LATERAL (SELECT pg_temp.rnd(c.id * 8 + k, 12, %(syncs)s) AS j) s
WHERE k < pg_temp.rnd(c.id, 21, 5)
-- status logs
INSERT INTO client_statuslog (created_at, computer_id, status)
SELECT created_at, id, 'assigned' FROM client_computer
UNION ALL SELECT updated_at, id, status FROM client_computer WHERE status <> 'assigned'
-- migrations
INSERT INTO client_migration (created_at, computer_id, project_id)
SELECT created_at + interval '10 days', id, project_id FROM client_computer WHERE id %% 20 = 0
""")
# Per computer, distinct packages of its project; the last quarter already uninstalled.
PACKAGE_HISTORY = """
INSERT INTO client_packagehistory (id, computer_id, package_id, install_date, uninstall_date)
SELECT (c.id - 1) * %(history)s + k + 1, c.id,
(c.project_id - 1) * %(per)s + (c.id * 131 + k * 17) %% %(per)s + 1,
c.created_at + make_interval(hours => k),
CASE WHEN k >= %(history)s * 3 / 4 THEN c.created_at + make_interval(hours => k + 240) END
FROM client_computer c CROSS JOIN generate_series(0, %(history)s - 1) k
WHERE c.id BETWEEN %(lo)s AND %(hi)s"""


def load(loader: Loader) -> None:
    """Everything, in dependency order."""
    p = loader.params
    loader.run("random function", RANDOM)
    loader.steps(CATALOG)
    p.update(dict(loader.conn.execute("SELECT 'prop_' || prefix, id FROM core_property")))
    first = loader.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM core_attribute")
    p.update(attribute_blocks(first.fetchone()[0], p["n"]))
    for line in table(ATTRIBUTES):
        block, count, value, description = line
        # Every part comes from the ATTRIBUTES constant above, never from input.
        statement = (
            "INSERT INTO core_attribute (id, property_att_id, value, description)"  # noqa: S608
            f" SELECT %({block})s + k, %(prop_{block})s, {value}, {description}"
            f" FROM generate_series(0, {count} - 1) k"
        )
        loader.run(f"attributes {block}", statement)
    p["all_systems"] = loader.conn.execute(
        "SELECT a.id FROM core_attribute a JOIN core_property p ON p.id = a.property_att_id"
        " WHERE p.prefix = 'SET' AND a.value = 'All Systems'"
    ).fetchone()[0]
    loader.steps(PLAN)
    for label, select in table(SYNC_ATTRIBUTES):
        link = "INSERT INTO client_computer_sync_attributes (computer_id, attribute_id) "
        loader.run(f"sync attributes {label}", link + select)
    loader.steps(RULES)
    loader.chunked("synchronizations", SYNCHRONIZATIONS, parts=4)
    loader.steps(EVENTS)
    loader.chunked("package history", PACKAGE_HISTORY, parts=20)


SECONDARY_INDEXES = """
SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
WHERE t.relname = ANY(%(tables)s) AND t.relnamespace = 'public'::regnamespace
AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
"""
SERIAL_TABLES = """
SELECT table_name FROM information_schema.columns
WHERE table_schema = 'public' AND column_name = 'id' AND column_default LIKE 'nextval%%'
"""


def fill(url: str, computers: int, syncs: int, history: int) -> int:
    """Load everything; returns the number of rows written."""
    database = make_url(url).database
    params = {
        "n": computers,
        "syncs": syncs,
        "history": history,
        "per": PACKAGES_PER_PROJECT,
        "projects": len(PROJECTS),
        "nplatforms": len(PLATFORMS),
        "names": [p[0] for p in PROJECTS],
        "pms": [p[1] for p in PROJECTS],
        "arch": [p[2] for p in PROJECTS],
        "plt": [p[3] for p in PROJECTS],
        "platforms": list(PLATFORMS),
        **USERS,
        "usernames": list(USERS.values()),
        "hashes": [hash_key(api_key(database, name)) for name in USERS.values()],
    }
    loader = Loader(url, params)
    conn = loader.conn
    # Session settings only: foreign keys are right by construction, so their per-row triggers
    # are skipped (replica role), and index builds get memory.
    for setting in (
        "SET session_replication_role = replica",
        "SET synchronous_commit = off",
        "SET maintenance_work_mem = '1GB'",
        "SET work_mem = '256MB'",
    ):
        conn.execute(setting)
    indexes = conn.execute(SECONDARY_INDEXES, {"tables": list(BULK_TABLES)}).fetchall()
    for name, _ in indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    load(loader)
    for name, definition in indexes:
        loader.run(f"index {name}", definition)
    # The replica role skipped the triggers that keep domain membership and domain attributes
    # (migrations 0004, 0005): the functions they call recompute them once, set-based.
    conn.execute("SET session_replication_role = origin")
    for label, statement in MEMBERSHIP:
        began = time.perf_counter()
        conn.execute(statement)
        print(f"  {label:<40.40} {'':>11} {'':>4} {time.perf_counter() - began:7.1f} s", flush=True)
    for (table,) in conn.execute(SERIAL_TABLES).fetchall():
        conn.execute(
            sql.SQL(
                "SELECT setval(pg_get_serial_sequence({t}, 'id'),"
                " (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            ).format(t=sql.Literal(table), table=sql.Identifier(table))
        )
    # Autovacuum would get there in production; the visibility map makes index-only scans work.
    loader.run("vacuum analyze", "VACUUM (ANALYZE)")
    conn.close()
    return loader.rows


MEMBERSHIP = (
    ("domain membership", "SELECT core_domain_computers_of_owners(array_agg(id)) FROM core_domain"),
    ("scope membership", "SELECT core_scope_computers_of_owners(array_agg(id)) FROM core_scope"),
    (
        "domain tags",
        "SELECT core_domain_attributes_of_pairs(array_agg(domain_id), array_agg(attribute_id))"
        " FROM core_domain_tags",
    ),
)


def report(url: str) -> None:
    with psycopg.connect(psql_url(url)) as conn:
        rows = conn.execute(
            "SELECT relname, reltuples::bigint, pg_total_relation_size(oid) FROM pg_class"
            " WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace AND reltuples > 1000"
            " ORDER BY reltuples DESC"
        ).fetchall()
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = size.fetchone()[0]
    for name, count, total in rows:
        print(f"  {name:<36} {count:>12,} rows {total / 2**20:9,.0f} MiB")
    print(f"  database size: {size}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--computers", type=int, default=100_000)
    parser.add_argument("--syncs", type=int, default=20, help="synchronizations per computer")
    parser.add_argument("--history", type=int, default=200, help="package rows per computer")
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--server", default=SERVER, help="PostgreSQL URL without database")
    parser.add_argument("--force", action="store_true", help="refill even if already filled")
    args = parser.parse_args(argv)
    if not 0 < args.history <= PACKAGES_PER_PROJECT or args.computers < 1 or args.syncs < 1:
        parser.error("sizes must be positive (history at most 4000)")
    url = database_url(args.database, args.server)
    wanted = {
        "computers": args.computers,
        "syncs": args.syncs,
        "history": args.history,
        "version": GENERATOR_VERSION,
    }
    marker = fleet_marker(url)
    if not args.force and marker and all(marker.get(k) == v for k, v in wanted.items()):
        print(f"{args.database} already holds this fleet ({marker['rows']:,} rows generated);")
        print("applying new migrations only (e.g. new indexes).")
        migrate_and_seed(url)
        # A migration may add tables or indexes the planner has no statistics of yet.
        with psycopg.connect(psql_url(url), autocommit=True) as conn:
            conn.execute("ANALYZE")
        report(url)
        return 0
    began = time.perf_counter()
    print(f"Creating {args.database} for {args.computers:,} computers", flush=True)
    recreate(url)
    migrate_and_seed(url)
    print(f"  migrated and seeded in {time.perf_counter() - began:.1f} s", flush=True)
    rows = fill(url, args.computers, args.syncs, args.history)
    seconds = time.perf_counter() - began
    marker = {**wanted, "rows": rows, "seconds": round(seconds)}
    admin = psql_url(make_url(url).set(database="postgres").render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(args.database), sql.Literal(json.dumps(marker))
            )
        )
    print(f"Done: {rows:,} rows in {seconds:.0f} s ({rows / seconds:,.0f} rows/s)")
    report(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
