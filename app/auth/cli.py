"""Account commands: create-user, create-token, demo-accounts."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from werkzeug.security import check_password_hash, generate_password_hash

from app import db
from app.auth import passwords
from app.auth.tokens import token_hash
from app.repo import Conn, users
from geo.taxonomy import ROLES


def _create(conn: Conn, username: str, password: str, role: str) -> int:
    if users.get_by_name(conn, username) is not None:
        raise click.ClickException(f"user {username!r} exists already")
    user_id = users.insert(conn, username=username, password_hash=generate_password_hash(password), role=role)
    users.audit(conn, actor_id=None, entity="user", entity_id=str(user_id), action="created",
                after={"username": username, "role": role}, reason="command line")
    return user_id


def create(username: str, password: str, role: str) -> int:
    """Create an account and record it in the audit trail; a taken name is a ClickException."""
    with db.connection() as conn:
        return _create(conn, username, password, role)


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, from the first byte on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    os.chmod(path, 0o600)  # when the file existed before with wider permissions


def _valid_logins(conn: Conn, lines: list[str]) -> list[str]:
    """The lines of the logins file that sign in to this database (the file may be left from another one)."""
    valid = []
    for line in lines:
        username, _, password = line.strip().partition(" ")
        account = users.get_by_name(conn, username) if username else None
        if account is not None and account["active"] and check_password_hash(account["password_hash"],
                                                                              password.strip()):
            valid.append(line)
    return valid


@click.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True, help="crew, coordinator or admin")
@with_appcontext
def create_user_command(username: str, role: str) -> None:
    """Create an account; the password comes from GRIDTRIAGE_PASSWORD when set, else a prompt."""
    password = os.environ.get("GRIDTRIAGE_PASSWORD") or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True)
    if reason := passwords.problem(password):
        raise click.ClickException(reason)
    user_id = create(username, password, role)
    click.echo(f"created {role} {username!r} (id {user_id})")


@click.command("create-token")
@click.argument("username")
@click.option("--label", default=None, help="what the token is for, e.g. the script that uses it")
@with_appcontext
def create_token_command(username: str, label: str | None) -> None:
    """Print a new API bearer token for an account (shown once; only its hash is stored)."""
    token = "gt_" + secrets.token_urlsafe(32)
    with db.connection() as conn:
        row = users.get_by_name(conn, username)
        if row is None:
            raise click.ClickException(f"no user {username!r}")
        users.insert_token(conn, user_id=row["id"], token_hash=token_hash(token), label=label)
        users.audit(conn, actor_id=None, entity="user", entity_id=str(row["id"]), action="token_created",
                    after={"label": label}, reason="command line")
    click.echo(token)


@click.command("demo-accounts")
@with_appcontext
def demo_accounts_command() -> None:
    """Create one demo account per role when there are no accounts; print the demo logins."""
    logins = Path(current_app.config["DEMO_LOGINS_FILE"])
    with db.connection() as conn:
        if users.count(conn) == 0:
            lines = []
            for role in ROLES:
                password = secrets.token_urlsafe(9)
                _create(conn, f"demo-{role}", password, role)
                lines.append(f"  demo-{role:<12} {password}")
            # Written before the accounts commit: a failed write leaves no accounts whose passwords nobody knows.
            _write_private(logins, "\n".join(lines) + "\n")
        valid = _valid_logins(conn, logins.read_text().splitlines() if logins.exists() else [])
    if valid:
        click.echo("Demo logins (user, password):\n" + "\n".join(valid))
    else:
        click.echo("Accounts exist already; create more with: flask --app app create-user NAME --role ROLE")


def init_app(app: Flask) -> None:
    for command in (create_user_command, create_token_command, demo_accounts_command):
        app.cli.add_command(command)
