"""Account administration (admin role): create accounts, change roles, deactivate, reset passwords, revoke tokens.

Every change is an audit event with the acting admin, the before and after, and the reason they give. An admin
cannot change their own role or deactivate themselves, and the last active admin cannot be demoted or deactivated,
so the system always keeps someone who can manage it.
"""

from __future__ import annotations

from typing import Any

import psycopg
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.security import generate_password_hash
from werkzeug.wrappers import Response
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

from app import db
from app.auth import passwords
from app.auth.access import requires
from app.repo import Conn, users
from app.site.labels import ROLE_LABELS, label
from geo.taxonomy import ROLES

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")
USERNAME = r"\A[A-Za-z0-9_.@-]{1,64}\Z"  # \Z: "$" would let a trailing newline through
ACTIONS = {"role": lazy_gettext("role changed"), "deactivate": lazy_gettext("deactivated"),
           "activate": lazy_gettext("reactivated"), "password": lazy_gettext("password reset"),
           "revoke_tokens": lazy_gettext("API tokens revoked")}
AUDITED_AS = {"role": "role_changed", "deactivate": "deactivated", "activate": "activated",
              "password": "password_reset", "revoke_tokens": "tokens_revoked"}
ROLE_CHOICES = [SelectChoice(r) for r in ROLES]


class NewUserForm(FlaskForm):
    username = StringField(lazy_gettext("Username"), validators=[
        DataRequired(), Regexp(USERNAME, message=lazy_gettext("letters, digits and _ . @ - only, at most 64"))])
    role = SelectField(lazy_gettext("Role"), choices=ROLE_CHOICES)
    password = PasswordField(lazy_gettext("Initial password"), validators=[DataRequired(), passwords.form_rule])


class ChangeForm(FlaskForm):
    action = SelectField("Change", choices=[SelectChoice(value, label) for value, label in ACTIONS.items()])
    role = SelectField("New role", choices=ROLE_CHOICES, validators=[Optional()])
    password = PasswordField("New password", validators=[Optional(), passwords.form_rule])
    reason = StringField("Reason", validators=[DataRequired(message="say why (it goes into the audit trail)"),
                                               Length(min=3, max=500)])


class Refused(Exception):
    """A change the rules forbid (409) or a missing account (404), with a message for the admin."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def _page(new_form: NewUserForm | None = None, *, error: str | None = None, status: int = 200,
          field_errors: dict[str, list[str]] | None = None) -> tuple[str, int]:
    with db.connection() as conn:
        accounts = users.listing(conn)
        history = users.events(conn, limit=50)
    html = render_template("admin/users.html", accounts=accounts, history=history, roles=ROLES,
                           actions=ACTIONS, new_form=new_form or NewUserForm(), change_form=ChangeForm(),
                           error=error, field_errors=field_errors or {})
    return html, status


@bp.get("/users")
@requires("admin")
def users_page() -> tuple[str, int]:
    """Admin: every account, its tokens, and the newest account events."""
    return _page()


@bp.post("/users")
@requires("admin")
def create_user() -> Response | tuple[str, int]:
    """Admin: create an account with an initial password (audited)."""
    form = NewUserForm()
    if not form.validate_on_submit():
        return _page(form, error=gettext("The account was not created."), status=422, field_errors=form.errors)
    username, role = form.username.data or "", form.role.data or ""
    def taken() -> tuple[str, int]:
        return _page(form, error=gettext("The user name %(name)s is taken.", name=repr(username)), status=409)

    try:
        with db.connection() as conn:
            if users.get_by_name(conn, username) is not None:
                return taken()
            user_id = users.insert(conn, username=username, role=role,
                                   password_hash=generate_password_hash(form.password.data or ""))
            users.audit(conn, actor_id=current_user.id, entity="user", entity_id=str(user_id), action="created",
                        after={"username": username, "role": role}, reason="created by an admin")
    except psycopg.errors.UniqueViolation:  # the same name created at the same moment by another request
        return taken()
    flash(gettext("Created %(role)s %(name)s.", role=label(role, ROLE_LABELS), name=username))
    return redirect(url_for("admin.users_page"), 303)


@bp.post("/users/<int:user_id>")
@requires("admin")
def change_user(user_id: int) -> Response | tuple[str, int]:
    """Admin: change one account (role, active, password, tokens) with a reason (audited)."""
    form = ChangeForm()
    if not form.validate_on_submit():
        return _page(error=gettext("Nothing was changed."), status=422, field_errors=form.errors)
    try:
        with db.connection() as conn:
            message = _apply(conn, user_id, form)
    except Refused as refused:
        return _page(error=str(refused), status=refused.status)
    flash(message)
    return redirect(url_for("admin.users_page"), 303)


def _apply(conn: Conn, user_id: int, form: ChangeForm) -> str:
    """Make one change in the caller's transaction and audit it; raise Refused when the rules forbid it."""
    action, reason = form.action.data or "", form.reason.data or ""
    account = users.lock_for_change(conn, user_id)
    if account is None:
        raise Refused(gettext("There is no account %(id)s.", id=user_id), 404)
    name = account["username"]
    yourself = user_id == current_user.id
    before: dict[str, Any] = {"role": account["role"], "active": account["active"]}
    after: dict[str, Any]
    if action == "role":
        role = form.role.data or ""
        if role not in ROLES:
            raise Refused(gettext("Choose the new role: one of %(roles)s.", roles=", ".join(ROLES)), 422)
        if yourself:
            raise Refused(gettext("You cannot change your own role; ask another admin."))
        if account["role"] == "admin" and role != "admin" and account["active"] and not account["other_admins"]:
            raise Refused(gettext("%(name)s is the last active admin; make another admin first.", name=name))
        users.set_role(conn, user_id, role)
        after = {"role": role}
    elif action in ("deactivate", "activate"):
        active = action == "activate"
        if yourself and not active:
            raise Refused(gettext("You cannot deactivate yourself; ask another admin."))
        if not active and account["role"] == "admin" and not account["other_admins"]:
            raise Refused(gettext("%(name)s is the last active admin; make another admin first.", name=name))
        users.set_active(conn, user_id, active)  # deactivating ends the account's sessions for good
        after = {"active": active}
        if not active:  # and its tokens, so that reactivating does not revive a lost phone's access
            after["tokens_revoked"] = users.revoke_tokens(conn, user_id)
    elif action == "password":
        password = form.password.data or ""
        if reason := passwords.problem(password, translate=gettext):
            raise Refused(gettext("Give a new password. %(why)s", why=reason), 422)
        # A reset says the password may be known to someone else: it ends the account's sessions (the password
        # is part of their tag) and revokes its API tokens; the admin issues new tokens where still needed.
        users.set_password(conn, user_id, generate_password_hash(password))
        before, after = {}, {"password": "reset", "tokens_revoked": users.revoke_tokens(conn, user_id)}
    else:
        before, after = {}, {"tokens_revoked": users.revoke_tokens(conn, user_id)}
    users.audit(conn, actor_id=current_user.id, entity="user", entity_id=str(user_id), action=AUDITED_AS[action],
                before=before or None, after=after, reason=reason)
    return f"{name}: {ACTIONS[action]}."
