"""Signing in and out, changing one's password, and the session facts the front end needs."""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from app import db
from app.auth import passwords
from app.auth.access import public, requires, user_from_row
from app.auth.security import client_address, limit
from app.parse import safe_next
from app.repo import users

bp = Blueprint("auth", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/auth")
# Compared against when the user does not exist, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a real password")


class LoginForm(FlaskForm):
    username = StringField(lazy_gettext("Username"), validators=[
        DataRequired(), Length(max=64),
        Regexp(r"^[^\x00-\x1f\x7f]*$", message=lazy_gettext("must not contain control characters"))])
    password = PasswordField(lazy_gettext("Password"), validators=[DataRequired(), Length(max=256)])


class PasswordForm(FlaskForm):
    current = PasswordField(lazy_gettext("Current password"), validators=[DataRequired()])
    new = PasswordField(lazy_gettext("New password"), validators=[DataRequired(), passwords.form_rule])
    confirm = PasswordField(lazy_gettext("Repeat the new password"),
                            validators=[EqualTo("new", lazy_gettext("The passwords differ."))])


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Response | str | tuple[str, int]:
    """Anyone: the sign-in form; crews stay signed in on their phones (remember cookie)."""
    form = LoginForm()
    if form.validate_on_submit():
        name = form.username.data or ""
        limit("login", f"user:{name.lower()}", f"addr:{client_address()}")
        with db.connection() as conn:
            row = users.get_by_name(conn, name)
        ok = check_password_hash(row["password_hash"] if row else _DUMMY_HASH, form.password.data or "")
        user = user_from_row(row) if ok else None
        if user is not None:
            with db.connection() as conn:
                user = replace(user, session_id=users.start_session(conn, user.id))
            session.clear()
            session.permanent = True
            login_user(user, remember=user.role == "crew")
            return redirect(safe_next(request.args.get("next"), host=request.host, default=url_for("site.home")))
        return render_template("auth/login.html", form=form, error=gettext("Wrong username or password.")), 401
    if form.is_submitted():  # a missing field, a name with control characters, a stale form: say which
        problems = "; ".join(f"{getattr(form, name).label.text}: {' '.join(str(e) for e in errors)}"
                             for name, errors in form.errors.items() if name != "csrf_token")
        return render_template("auth/login.html", form=form,
                               error=problems or gettext("The form expired; reload the page and sign in again.")), 400
    return render_template("auth/login.html", form=form, error=None)


@bp.post("/logout")
@requires("crew")
def logout() -> Response:
    """Crew and up: sign out (a POST with the CSRF token, so no other site can sign you out). The sign-in ends on
    the server, so copies of its session or remember cookie no longer work either."""
    if current_user.session_id is not None:
        with db.connection() as conn:
            users.end_session(conn, current_user.session_id)
    session.clear()  # first: logout_user() then leaves its order to delete the crew's remember-me cookie
    logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@requires("crew")
def change_password() -> Response | str | tuple[str, int]:
    """Crew and up: change one's own password; every other session of the account ends."""
    form = PasswordForm()
    if form.validate_on_submit():
        limit("login", f"user:{current_user.username.lower()}", f"addr:{client_address()}")
        with db.connection() as conn:
            row = users.get(conn, current_user.id)
            if row is None or not check_password_hash(row["password_hash"], form.current.data or ""):
                wrong = gettext("The current password is wrong.")
                return render_template("auth/password.html", form=form, error=wrong), 400
            users.set_password(conn, current_user.id, generate_password_hash(form.new.data or ""))
            users.audit(conn, actor_id=current_user.id, entity="user", entity_id=str(current_user.id),
                        action="password_changed", reason="changed by the user")
            fresh = user_from_row(users.get(conn, current_user.id), session_id=current_user.session_id)
        assert fresh is not None
        login_user(fresh, remember=fresh.role == "crew")
        flash(gettext("Password changed."))
        return redirect(url_for("site.home"))
    if form.is_submitted():  # too short, not repeated the same, or no CSRF token: say so, change nothing
        return render_template("auth/password.html", form=form, error=gettext("The password was not changed.")), 422
    return render_template("auth/password.html", form=form, error=None)


@bp.get("/api/session")
@requires("crew")
def session_info() -> Response:
    """Crew and up: who is signed in, and a fresh CSRF token for the offline outbox's next sync."""
    return jsonify({"username": current_user.username, "role": current_user.role, "csrf_token": generate_csrf()})
