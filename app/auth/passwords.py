"""The one password rule, for the sign-in forms, the admin page and the command line."""

from __future__ import annotations

from typing import Any

from wtforms.validators import ValidationError as FormError

MIN_CHARS = 10
MAX_CHARS = 256


def problem(password: str) -> str | None:
    """Why a new password is refused, or None when it is acceptable."""
    if len(password.strip()) < MIN_CHARS:
        return f"The password must have at least {MIN_CHARS} characters, not only spaces."
    if len(password) > MAX_CHARS:
        return f"The password must have at most {MAX_CHARS} characters."
    if "\x00" in password:
        return "The password must not contain NUL characters."
    return None


def form_rule(form: Any, field: Any) -> None:
    """The rule as a WTForms validator (empty fields are left to DataRequired/Optional)."""
    if field.data and (reason := problem(field.data)):
        raise FormError(reason)
