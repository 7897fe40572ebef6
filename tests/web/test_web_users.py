"""Users (issue 3): argon2id hashes, authentication, roles, session stamps, the `leadflow users` commands."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from leadflow.core.permissions import Role
from leadflow.services import users
from leadflow.store.db import Database
from leadflow.store.migrate import upgrade
from leadflow.store.user_tables import User

PW = "correct-horse-battery"


@pytest.fixture
def ws(db_url):
    from leadflow.services.workspaces import get_or_create_workspace

    db = Database(db_url)
    upgrade(db)
    with db.session() as s:
        ws_id = get_or_create_workspace(s, "acme").id
    yield db, ws_id
    db.dispose()


def test_create_and_authenticate(ws):
    db, ws_id = ws
    with db.session() as s:
        u = users.create_user(s, ws_id, "  Ana@Example.COM ", PW, "admin", name="Ana")
    assert u.email == "ana@example.com" and u.role == Role.ADMIN and u.active
    with db.session() as s:
        stored = s.scalar(select(User).where(User.id == u.id))
        assert stored.password_hash.startswith("$argon2id$") and PW not in stored.password_hash
        assert users.authenticate(s, ws_id, "ANA@example.com", PW).id == u.id
        assert users.authenticate(s, ws_id, "ana@example.com", PW + "x") is None
        assert users.authenticate(s, ws_id, "nobody@example.com", PW) is None
        assert users.authenticate(s, ws_id, "ana@example.com", "") is None
    with db.session() as s:
        assert users.get_user(s, ws_id, u.id).last_login_at is not None


@pytest.mark.parametrize("email,password,role,field", [
    ("not-an-email", PW, "admin", "email"), ("a@example.com", "short", "admin", "password"),
    ("a@example.com", PW, "boss", "role"), ("a@example.com", "x" * 2000, "sales", "password")])
def test_invalid_input_names_the_field(ws, email, password, role, field):
    db, ws_id = ws
    with db.session() as s, pytest.raises(users.UserError) as exc:
        users.create_user(s, ws_id, email, password, role)
    assert exc.value.field == field


def test_duplicate_email_refused_and_workspaces_separate(ws):
    from leadflow.services.workspaces import get_or_create_workspace

    db, ws_id = ws
    with db.session() as s:
        users.create_user(s, ws_id, "a@example.com", PW, "sales")
    with db.session() as s, pytest.raises(users.UserError) as exc:
        users.create_user(s, ws_id, "A@example.com", PW, "sales")
    assert exc.value.field == "email"
    with db.session() as s:
        other = get_or_create_workspace(s, "other").id
        users.create_user(s, other, "a@example.com", PW, "marketing")
        assert users.authenticate(s, other, "a@example.com", PW).role == Role.MARKETING
        assert users.authenticate(s, ws_id, "a@example.com", PW).role == Role.SALES


def test_password_change_role_change_and_deactivation(ws):
    db, ws_id = ws
    with db.session() as s:
        u = users.create_user(s, ws_id, "a@example.com", PW, "sales")
    with db.session() as s:
        changed = users.set_password(s, ws_id, "a@example.com", "another-long-password")
        assert changed.session_stamp != u.session_stamp  # signs out existing sessions
        assert users.authenticate(s, ws_id, "a@example.com", PW) is None
        assert users.set_role(s, ws_id, "a@example.com", "MARKETING").role == Role.MARKETING
        users.set_active(s, ws_id, "a@example.com", False)
        assert users.authenticate(s, ws_id, "a@example.com", "another-long-password") is None
        with pytest.raises(users.UserError):
            users.set_role(s, ws_id, "nobody@example.com", "admin")


def test_cli_add_list_passwd(tmp_path):
    from leadflow.cli import app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    run = CliRunner()
    env = {"LEADFLOW_DATABASE_URL": url, "LEADFLOW_WORKSPACE": "acme"}
    r = run.invoke(app, ["users", "add", "root@example.com", "--role", "admin", "--password-stdin"],
                   input=PW + "\n", env=env)
    assert r.exit_code == 0, r.output
    r = run.invoke(app, ["users", "add", "x@example.com", "--role", "chief", "--password-stdin"], input=PW + "\n",
                   env=env)
    assert r.exit_code == 1 and "role" in r.output
    r = run.invoke(app, ["users", "list"], env=env)
    assert "root@example.com" in r.output and "admin" in r.output
    r = run.invoke(app, ["users", "passwd", "root@example.com", "--password-stdin"], input="new-password-123\n",
                   env=env)
    assert r.exit_code == 0, r.output
    db = Database(url)
    with db.session() as s:
        from leadflow.services.workspaces import get_or_create_workspace

        ws_id = get_or_create_workspace(s, "acme").id
        assert users.authenticate(s, ws_id, "root@example.com", "new-password-123") is not None
    db.dispose()
