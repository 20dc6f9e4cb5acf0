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

    from app import (
        account,
        admin,
        api,
        api_reports,
        auth,
        cases,
        coordinator,
        crew_work,
        db,
        demo,
        demo_scenario,
        errors,
        exports,
        field,
        health,
        i18n,
        imports,
        migrate,
        ogc,
        openapi,
        pages,
        security,
        sitrep,
        triage,
        users_cli,
        vendor,
    )

    db.init_app(app)
    migrate.init_app(app)
    errors.init_app(app)
    demo.init_app(app)
    auth.init_app(app)
    security.init_app(app)
    users_cli.init_app(app)
    app.register_blueprint(account.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(api_reports.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(triage.bp)
    app.register_blueprint(coordinator.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(vendor.bp)
    i18n.init_app(app)
    field.init_app(app)
    imports.init_app(app)
    app.register_blueprint(cases.bp)
    app.register_blueprint(crew_work.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(ogc.bp)
    app.register_blueprint(sitrep.bp)
    demo_scenario.init_app(app)
    return app
