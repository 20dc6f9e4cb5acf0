"""GridTriage's web application: the app factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from app import config


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app from defaults, FLASK_* environment variables and, in tests, `test_config`."""
    app = Flask(__name__)
    app.config.from_mapping(config.defaults())
    app.config.from_prefixed_env()
    if test_config:
        app.config.update(test_config)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = config.database_url()
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = config.secret_key()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)

    from app import db, errors, openapi
    from app.admin import views as admin
    from app.auth import access, cli, security
    from app.auth import views as auth
    from app.cases import views as cases
    from app.coordinator import exports, sitrep, triage
    from app.coordinator import map as coordinator
    from app.field import views as field
    from app.imports import commands as imports
    from app.ogc import views as ogc
    from app.reports import facilities, my_work
    from app.reports import views as reports
    from app.site import language
    from app.site import views as site

    db.init_app(app)
    errors.init_app(app)
    access.init_app(app)
    security.init_app(app)
    language.init_app(app)
    for commands in (cli, imports):
        commands.init_app(app)
    for area in (site, auth, admin, field, reports, facilities, my_work, cases,
                 coordinator, triage, sitrep, exports, ogc, openapi):
        app.register_blueprint(area.bp)
    return app
