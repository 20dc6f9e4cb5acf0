"""GridTriage's web application: the app factory."""

from __future__ import annotations

import logging
import math
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from app import config

logger = logging.getLogger(__name__)


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, but strict: NaN and infinities are not JSON, so a non-finite number is sent as null (and
    logged) rather than as a token that strict parsers, browsers' JSON.parse included, refuse."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        try:
            return super().dumps(obj, **kwargs)
        except ValueError:
            logger.warning("a non-finite number in a JSON response was sent as null")
            return super().dumps(_finite(obj), **kwargs)


def _finite(value: Any) -> Any:
    """`value` with every non-finite float in it (in dicts, lists and tuples) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app from defaults, FLASK_* environment variables and, in tests, `test_config`."""
    app = Flask(__name__)
    app.json = StrictJSONProvider(app)
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

    from app import db, errors, openapi, parse
    from app.admin import views as admin
    from app.auth import access, cli, security
    from app.auth import views as auth
    from app.cases import views as cases
    from app.coordinator import dispatch, exports, sitrep, switches, triage
    from app.coordinator import map as coordinator
    from app.crews import views as crews
    from app.field import views as field
    from app.imports import commands as imports
    from app.ogc import views as ogc
    from app.reports import facilities, my_work
    from app.reports import views as reports
    from app.site import language
    from app.site import views as site

    db.init_app(app)
    errors.init_app(app)
    parse.init_app(app)  # before the CSRF check, which reads form bodies
    access.init_app(app)
    security.init_app(app)
    language.init_app(app)
    for commands in (cli, imports):
        commands.init_app(app)
    for area in (site, auth, admin, field, reports, facilities, my_work, cases,
                 coordinator, triage, dispatch, sitrep, exports, ogc, openapi, crews, switches):
        app.register_blueprint(area.bp)
    return app
