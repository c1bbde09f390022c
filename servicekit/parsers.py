"""Parsers for ``servicekit.settings``: the type, bounds or choices of one setting.

A ``Parser`` pairs a conversion (text to value, ``ValueError`` when the text is bad) with the
words that say what a good value looks like; the reader turns the ``ValueError`` into its one
error wording, ``NAME: expected <expected>, got '<text>'``, so a parser never names a variable.
Pure standard library (imported by Locust's gevent-patched process too).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")
N = TypeVar("N", int, float)
T_co = TypeVar("T_co", covariant=True)  # a Parser[str] is a Parser[str | None]: optional settings


@dataclass(frozen=True, slots=True)
class Parser(Generic[T_co]):
    """Turns a variable's text into a value; ``convert`` raises ValueError on bad input."""

    #: What a good value looks like, for errors and docs: ``an integer from 1 to 65535``.
    expected: str
    convert: Callable[[str], T_co]


def _range(low: float | None, high: float | None, above: float | None) -> str:
    if low is not None and high is not None:
        return f" from {_num(low)} to {_num(high)}"
    if above is not None:
        return f" > {_num(above)}"
    if low is not None:
        return f" >= {_num(low)}"
    return "" if high is None else f" <= {_num(high)}"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _numeric(
    kind: Callable[[str], N], noun: str, low: N | None, high: N | None, above: N | None
) -> Parser[N]:
    def convert(raw: str) -> N:
        value = kind(raw)
        if (
            math.isnan(value)
            or (low is not None and value < low)
            or (above is not None and value <= above)
            or (high is not None and value > high)
        ):
            raise ValueError(raw)
        return value

    return Parser(f"{noun}{_range(low, high, above)}", convert)


def integer(low: int | None = None, high: int | None = None) -> Parser[int]:
    """A whole number within inclusive bounds."""
    return _numeric(int, "an integer", low, high, None)


def number(
    low: float | None = None, high: float | None = None, *, above: float | None = None
) -> Parser[float]:
    """A float within inclusive bounds (or strictly ``above``); NaN is never one."""
    return _numeric(float, "a number", low, high, above)


def choice(options: Sequence[str], *, upper: bool = False) -> Parser[str]:
    """One of ``options``; ``upper``: compared (and returned) upper-cased."""

    def convert(raw: str) -> str:
        value = raw.upper() if upper else raw
        if value not in options:
            raise ValueError(raw)
        return value

    return Parser(f"one of {', '.join(options)}", convert)


def text(expected: str = "text", check: Callable[[str], bool] | None = None) -> Parser[str]:
    """Text as it is, refused when ``check`` says no; ``expected`` says what passes."""

    def convert(raw: str) -> str:
        if check is not None and not check(raw):
            raise ValueError(raw)
        return raw

    return Parser(expected, convert)


def matching(pattern: str, expected: str) -> Parser[str]:
    """Text that matches the regular expression ``pattern`` as a whole."""
    compiled = re.compile(pattern)
    return text(expected, lambda raw: compiled.fullmatch(raw) is not None)


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in _TRUE | _FALSE:
        raise ValueError(raw)
    return value in _TRUE


#: On or off: ``1``/``0`` (also ``true``/``false``, ``yes``/``no``, ``on``/``off``).
BOOLEAN = Parser("1 or 0 (true/false, yes/no, on/off)", _boolean)

#: A file system path.
PATH = Parser("a path", Path)


def secret_bytes(min_bytes: int) -> Parser[bytes]:
    """A secret key of at least ``min_bytes`` bytes (UTF-8 inline, any bytes from a file)."""

    def convert(raw: str) -> bytes:
        value = raw.encode(errors="surrogateescape")
        if len(value) < min_bytes:
            raise ValueError("too short")
        return value

    return Parser(f"at least {min_bytes} bytes", convert)


def comma_list(item: Parser[T], expected: str) -> Parser[tuple[T, ...]]:
    """Comma-separated ``item``s; blanks around and between them are ignored."""

    def convert(raw: str) -> tuple[T, ...]:
        parts = (part.strip() for part in raw.split(","))
        return tuple(item.convert(part) for part in parts if part)

    return Parser(expected, convert)
