"""The one password rule, for the sign-in forms, the admin page and the command line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import gettext
from wtforms.validators import ValidationError as FormError

MIN_CHARS = 10
MAX_CHARS = 256


def _english(text: str, **values: object) -> str:
    return text % values


def problem(password: str, *, translate: Callable[..., str] = _english) -> str | None:
    """Why a new password is refused, or None when it is acceptable (in English unless given `translate`)."""
    _ = translate
    if len(password.strip()) < MIN_CHARS:
        return _("The password must have at least %(n)s characters, not only spaces.", n=MIN_CHARS)
    if len(password) > MAX_CHARS:
        return _("The password must have at most %(n)s characters.", n=MAX_CHARS)
    if "\x00" in password:
        return _("The password must not contain NUL characters.")
    return None


def form_rule(form: Any, field: Any) -> None:
    """The rule as a WTForms validator (empty fields are left to DataRequired/Optional)."""
    if field.data and (reason := problem(field.data, translate=gettext)):
        raise FormError(reason)
