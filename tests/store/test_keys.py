"""Migrations and API keys against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, select, text

import prism.store.db as store_db
from prism.errors import BadRequest, NotFound, Unauthorized
from prism.store.db import is_postgres, make_engine, migrate, session_factory
from prism.store.keys import KeyStore
from prism.store.models import ApiKey, Base

TABLES = {
    "orgs",
    "developers",
    "api_keys",
    "lake_commits",
    "lake_applied_batches",
    "metric_series_state",
    "preferences",
}


def _head() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(store_db.__file__).parent / "migrations"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def _schema(engine: Engine) -> str | None:
    return store_db.PG_SCHEMA if is_postgres(str(engine.url)) else None


def _versions(engine: Engine) -> list[str]:
    schema = _schema(engine)
    table = f"{schema}.alembic_version" if schema else "alembic_version"
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text(f"SELECT version_num FROM {table}"))]


@pytest.fixture
def keys(db: Engine) -> KeyStore:
    return KeyStore(session_factory(db))


def _all_stored_text(engine: Engine) -> str:
    """Every value of every Prism table, as one string (to prove a secret is nowhere)."""
    out = []
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                out.extend(str(v) for v in row)
    return "\n".join(out)


# --- migrations -----------------------------------------------------------------------------------


def test_migrate_creates_the_tables_and_twice_is_a_no_op(engine: Engine) -> None:
    migrate(engine)
    schema = _schema(engine)
    insp = inspect(engine)
    assert TABLES | {"alembic_version"} <= set(insp.get_table_names(schema=schema))
    if schema is not None:  # PostgreSQL: everything lives in schema `prism`, nothing in public
        assert not TABLES & set(insp.get_table_names(schema="public"))
    assert _versions(engine) == [_head()]

    keys = KeyStore(session_factory(engine))
    new = keys.create_key(developer="a@example.com", org="acme")
    migrate(engine)  # again: nothing changes, nothing is lost
    assert _versions(engine) == [_head()]
    assert keys.authenticate(new.key).email == "a@example.com"
    assert keys.count_keys() == 1


def _migrate_in_child(url: str, barrier: Barrier) -> None:
    engine = make_engine(url)  # the child's own engine and connections
    barrier.wait(timeout=30)  # every process starts migrating at the same moment
    migrate(engine)


def test_concurrent_migrations_from_several_processes(store_url: str, engine: Engine) -> None:
    # fork: the children inherit the imports (a fresh interpreter needs seconds for alembic) but
    # are separate processes with their own connections, locks and pids.
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=_migrate_in_child, args=(store_url, barrier)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert len({p.pid for p in procs} | {os.getpid()}) == 4
    assert _versions(engine) == [_head()]
    schema = _schema(engine)
    assert set(inspect(engine).get_table_names(schema=schema)) >= TABLES
    keys = KeyStore(session_factory(engine))
    assert keys.authenticate(keys.create_key(developer="d", org="o").key).org_id


# --- keys -----------------------------------------------------------------------------------------


def test_create_key_returns_the_secret_once_and_stores_only_its_hash(
    keys: KeyStore,
    db: Engine,
) -> None:
    new = keys.create_key(developer="alice@example.com", org="acme", name="laptop")
    assert new.key.startswith("gck_")
    assert len(new.key) == 4 + 43  # 256 random bits, url-safe base64
    assert (new.developer, new.org, new.scope) == ("alice@example.com", "acme", "developer")
    other = keys.create_key(developer="alice@example.com", org="acme")
    assert other.key != new.key

    with db.connect() as conn:
        row = conn.execute(select(ApiKey.__table__).where(ApiKey.id == new.id)).mappings().one()
    assert row["secret_hash"] == hashlib.sha256(new.key.encode()).hexdigest()
    assert row["prefix"] == new.key[:12]
    assert row["name"] == "laptop" and row["revoked_at"] is None
    assert all(new.key not in str(v) for v in row.values())
    assert new.key not in _all_stored_text(db)
    assert new.key[12:] not in _all_stored_text(db)
    if db.url.get_backend_name() == "sqlite":  # not even in the database files' bytes
        db_file = Path(str(db.url.database))
        for f in db_file.parent.glob(db_file.name + "*"):
            assert new.key[12:].encode() not in f.read_bytes(), f.name


def test_authenticate_resolves_the_principal(keys: KeyStore, db: Engine) -> None:
    dev = keys.create_key(developer="bob@example.com", org="acme")
    admin = keys.create_key(developer="boss@example.com", org="acme", scope="admin")
    who = keys.authenticate(dev.key)
    assert (who.key_id, who.email, who.scope, who.is_admin) == (
        dev.id,
        "bob@example.com",
        "developer",
        False,
    )
    assert who.time_zone == "UTC"
    boss = keys.authenticate(admin.key)
    assert boss.is_admin and boss.org_id == who.org_id and boss.developer_id != who.developer_id
    # another process's store (fresh sessions over the same database) agrees
    assert KeyStore(session_factory(db)).authenticate(dev.key) == who


@pytest.mark.parametrize(
    "secret",
    [None, "", "gck_", "nope", "Bearer gck_x", "gck_" + "A" * 43, "gck_" + "x" * 300],
)
def test_unknown_or_malformed_keys_are_unauthorized(keys: KeyStore, secret: str | None) -> None:
    keys.create_key(developer="c@example.com", org="acme")
    with pytest.raises(Unauthorized):
        keys.authenticate(secret)


def test_a_key_with_one_character_changed_is_unauthorized(keys: KeyStore) -> None:
    new = keys.create_key(developer="c@example.com", org="acme")
    last = new.key[-1]
    tampered = new.key[:-1] + ("A" if last != "A" else "B")
    with pytest.raises(Unauthorized):
        keys.authenticate(tampered)
    with pytest.raises(Unauthorized):
        keys.authenticate(new.key.upper())
    assert keys.authenticate(new.key).key_id == new.id


def test_revoked_key_is_unauthorized_from_then_on(keys: KeyStore) -> None:
    new = keys.create_key(developer="d@example.com", org="acme")
    keeper = keys.create_key(developer="d@example.com", org="acme")
    keys.authenticate(new.key)
    info = keys.revoke_key(new.id)
    assert info.revoked_at is not None
    with pytest.raises(Unauthorized):
        keys.authenticate(new.key)
    again = keys.revoke_key(new.id)  # idempotent: the first revocation time stands
    assert again.revoked_at == info.revoked_at
    assert keys.authenticate(keeper.key).key_id == keeper.id  # other keys unaffected


def test_last_used_at_is_recorded(keys: KeyStore) -> None:
    new = keys.create_key(developer="e@example.com", org="acme")
    (before,) = [k for k in keys.list_keys() if k.id == new.id]
    assert before.last_used_at is None
    started = datetime.now(UTC)
    keys.authenticate(new.key)
    (after,) = [k for k in keys.list_keys() if k.id == new.id]
    assert after.last_used_at is not None
    assert abs((after.last_used_at - started).total_seconds()) < 60


def test_list_never_shows_the_secret(keys: KeyStore) -> None:
    made = [
        keys.create_key(developer="f@example.com", org="acme"),
        keys.create_key(developer="g@example.com", org="acme", scope="admin"),
    ]
    listed = keys.list_keys()
    assert {k.id for k in listed} == {m.id for m in made}
    hashes = {hashlib.sha256(m.key.encode()).hexdigest() for m in made}
    for info in listed:
        for field in info.__slots__:
            value = str(getattr(info, field))
            assert not any(m.key in value or m.key[12:] in value for m in made), field
            assert value not in hashes, field
        assert info.prefix == next(m.key[:12] for m in made if m.id == info.id)
    by_id = {k.id: k for k in listed}
    assert by_id[made[0].id].developer == "f@example.com"
    assert by_id[made[1].id].scope == "admin"
    assert by_id[made[0].id].org == "acme"


def test_list_is_scoped_to_the_org(keys: KeyStore) -> None:
    a = keys.create_key(developer="h@example.com", org="acme")
    b = keys.create_key(developer="h@example.com", org="globex")
    acme = keys.authenticate(a.key).org_id
    globex = keys.authenticate(b.key).org_id
    assert [k.id for k in keys.list_keys(org_id=acme)] == [a.id]
    assert [k.id for k in keys.list_keys(org_id=globex)] == [b.id]


def test_revoking_another_orgs_key_is_not_found(keys: KeyStore) -> None:
    ours = keys.create_key(developer="i@example.com", org="acme", scope="admin")
    theirs = keys.create_key(developer="j@example.com", org="globex")
    our_org = keys.authenticate(ours.key).org_id
    with pytest.raises(NotFound):
        keys.revoke_key(theirs.id, org_id=our_org)
    assert keys.authenticate(theirs.key).key_id == theirs.id  # still valid
    with pytest.raises(NotFound):
        keys.revoke_key("00000000-0000-0000-0000-000000000000", org_id=our_org)


def test_developer_emails_are_normalized(keys: KeyStore) -> None:
    first = keys.create_key(developer="  Kim@Example.COM ", org="acme")
    second = keys.create_key(developer="kim@example.com", org="acme")
    assert first.developer == second.developer == "kim@example.com"
    a, b = keys.authenticate(first.key), keys.authenticate(second.key)
    assert a.developer_id == b.developer_id and a.email == "kim@example.com"
    assert keys.developer_in_org(a.org_id, "KIM@example.com") == a.developer_id
    assert keys.developer_in_org(a.org_id, a.developer_id) == a.developer_id
    with pytest.raises(NotFound):
        keys.developer_in_org(a.org_id, "nobody@example.com")
    # same email in another org is another developer
    elsewhere = keys.authenticate(keys.create_key(developer="kim@example.com", org="globex").key)
    assert elsewhere.developer_id != a.developer_id
    with pytest.raises(NotFound):
        keys.developer_in_org(a.org_id, elsewhere.developer_id)


@pytest.mark.parametrize(
    ("developer", "scope"), [("   ", "developer"), ("x" * 321, "developer"), ("l@x", "root")]
)
def test_bad_key_requests_are_bad_requests(keys: KeyStore, developer: str, scope: str) -> None:
    with pytest.raises(BadRequest):
        keys.create_key(developer=developer, org="acme", scope=scope)
    assert keys.count_keys() == 0


def test_org_lookup(keys: KeyStore) -> None:
    assert keys.default_org_name() is None
    who = keys.authenticate(keys.create_key(developer="m@example.com", org="acme").key)
    keys.create_key(developer="m@example.com", org="globex")
    assert keys.org_name(who.org_id) == "acme"
    assert keys.default_org_name() == "acme"
    with pytest.raises(NotFound):
        keys.org_name("missing")


def test_key_times_are_timezone_aware_utc(keys: KeyStore) -> None:
    """Every backend hands back aware UTC times (SQLite stores them without an offset), so
    the API never shows a time a client could read as local."""
    new = keys.create_key(developer="n@example.com", org="acme")
    keys.authenticate(new.key)
    info = keys.revoke_key(new.id)
    for value in (info.created_at, info.last_used_at, info.revoked_at):
        assert value is not None and value.utcoffset() is not None
        assert value.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
