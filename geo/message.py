"""Sentences that the app can say in another language: English text that keeps its message id and parameters.

A `Text` is a `str` (the English sentence, so every caller, JSON answer and test reads it as before) that also
carries the message id it was made from and its parameters. The app translates the id with its catalogue and
formats the parameters the locale's way (app/site/sentences.py); geo itself never translates. Message ids are
marked with `N_`, which pybabel extracts (one of its default keywords) and which does nothing at run time.

Parameters are data (names, ids: `str`, said as they are), numbers (`Quantity`), moments (`Moment`), codes of
the vocabulary (`Code`) or other `Text`s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

# How a Quantity is written in English (the app has the same styles in every locale).
STYLES = ("people", "hours", "tenths", "percent", "count", "whole")


def N_(msgid: str) -> str:  # noqa: N802 (the name pybabel looks for)
    """Mark a message id for extraction; the translation happens in the app."""
    return msgid


@dataclass(frozen=True)
class Quantity:
    """A number in a sentence, with the way it is written: people ("29,754", small fractions to 3 digits),
    hours ("2.5"), one decimal ("1.0"), a percentage ("30%"), a count ("3") or a whole number with separators
    ("1,234")."""

    value: float
    style: str = "people"

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, got {self.style!r}")

    def __str__(self) -> str:
        return english(self.value, self.style)


def english(x: float, style: str = "people") -> str:
    """A number written the English way in one of the STYLES (what str() of its Quantity says)."""
    if style == "people":
        return f"{x:,.0f}" if abs(x) >= 100 or float(x).is_integer() else f"{x:,.3g}"
    if style == "hours":
        return f"{x:g}"
    if style == "tenths":
        return f"{x:.1f}"
    if style == "percent":
        return f"{x:.0%}"
    if style == "whole":
        return f"{x:,.0f}"
    return str(int(x))


@dataclass(frozen=True)
class Moment:
    """A time in a sentence, in UTC: "07:10 UTC", or with its date ("2026-12-07 07:10 UTC")."""

    at: datetime
    with_date: bool = True

    def __str__(self) -> str:
        return self.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC" if self.with_date else "%H:%M UTC")


@dataclass(frozen=True)
class Code:
    """A code of the vocabulary in a sentence ("in_repair"): in English spaced ("in repair") or as it is
    (`spaced` false), its label in other languages."""

    code: str
    vocabulary: str
    spaced: bool = True

    def __str__(self) -> str:
        return self.code.replace("_", " ") if self.spaced else self.code


class Text(str):
    """An English sentence (the string itself) with the message id and the parameters it was made from.

    `msgid` None is a concatenation: `parts` said one after another with `sep`, the first letter capitalised when
    `capital` is set.
    """

    __slots__ = ("capital", "msgid", "params", "parts", "sep")
    msgid: str | None
    params: Mapping[str, object]
    parts: tuple[object, ...]
    sep: str
    capital: bool

    def __new__(cls, msgid: str, /, **params: object) -> Text:
        self = super().__new__(cls, msgid.format(**{key: str(value) for key, value in params.items()}))
        self.msgid, self.params, self.parts, self.sep, self.capital = msgid, params, (), "", False
        return self

    @classmethod
    def joined(cls, *parts: object, sep: str = "", capital: bool = False) -> Text:
        """Parts (texts, data, numbers) said one after the other, with `sep` between them."""
        try:  # texts and plain strings (most sentences) join as they are: the same characters as their str()
            english = sep.join(parts)  # type: ignore[arg-type]
        except TypeError:
            english = sep.join(str(part) for part in parts)
        self = super().__new__(cls, english[:1].upper() + english[1:] if capital else english)
        self.msgid, self.params, self.parts, self.sep, self.capital = None, {}, tuple(parts), sep, capital
        return self


class DeferredText(Text):
    """A Text whose English is known now and whose message id, parameters and parts are made on first use by
    `made(at)` (a shared maker, e.g. of a whole ranking's sentences): the English-only reader never pays for them.
    The made Text must say the same English (checked when it is made)."""

    __slots__ = ("_at", "_made")
    _made: Callable[[int], Text] | None
    _at: int

    def __new__(cls, english: str, made: Callable[[int], Text], at: int) -> DeferredText:
        self = str.__new__(cls, english)
        self._made, self._at = made, at
        return self

    def __getattr__(self, name: str) -> object:  # only for the Text fields not made yet
        made = object.__getattribute__(self, "_made")
        if made is None or name not in Text.__slots__:
            raise AttributeError(name)
        text = made(object.__getattribute__(self, "_at"))
        if str.__str__(text) != str.__str__(self):
            raise AssertionError(f"deferred text made differently: {text!r} is not {str.__str__(self)!r}")
        self.msgid, self.params, self.parts, self.sep, self.capital = (
            text.msgid, text.params, text.parts, text.sep, text.capital)
        self._made = None
        return object.__getattribute__(self, name)

    def __reduce__(self) -> tuple[object, ...]:
        """Copied or pickled as the plain Text it stands for."""
        return (_plain_text, (str.__str__(self), self.msgid, dict(self.params), self.parts, self.sep, self.capital))


def _plain_text(english: str, msgid: str | None, params: dict[str, object], parts: tuple[object, ...], sep: str,
                capital: bool) -> Text:
    text = str.__new__(Text, english)
    text.msgid, text.params, text.parts, text.sep, text.capital = msgid, params, parts, sep, capital
    return text


def without_stop(text: str) -> str:
    """A sentence without its final full stop, keeping what it is made of."""
    if isinstance(text, Text) and text.msgid is None and text.parts and text.parts[-1] == ".":
        return Text.joined(*text.parts[:-1], sep=text.sep, capital=text.capital)
    return text.removesuffix(".")
