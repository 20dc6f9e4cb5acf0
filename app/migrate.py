"""Schema migrations through Alembic; the migrations themselves are SQL in migrations/versions."""

from __future__ import annotations

import click
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask.cli import with_appcontext

from app.config import ROOT


def alembic_config(database_url: str) -> Config:
    """Alembic's configuration for this project, pointed at one database."""
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    # Any libpq form (URL or key=value) works: migrations/env.py connects with psycopg itself.
    config.attributes["database_url"] = database_url
    return config


def head_revision() -> str | None:
    """The newest migration in the source tree."""
    return ScriptDirectory.from_config(alembic_config("postgresql://")).get_current_head()


def upgrade(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


@click.command("db-upgrade")
@with_appcontext
def db_upgrade_command() -> None:
    """Apply every migration that is not yet applied (a no-op when the schema is current)."""
    upgrade(current_app.config["DATABASE_URL"])
    click.echo(f"database schema at {head_revision()}")


def init_app(app: Flask) -> None:
    app.config["SCHEMA_HEAD"] = head_revision()
    app.cli.add_command(db_upgrade_command)
