"""One settings reader: each setting declared once, read from the environment, named in errors.

A config is a frozen dataclass whose fields are declared with ``setting()``: the variable's
name, its parser (type, bounds or choices: ``servicekit.parsers``), its default and its help
text live in that one declaration, and the dataclass default *is* that default, so it is never
written twice::

    @dataclass(frozen=True, slots=True)
    class NodeConfig:
        port: int = setting("NODE_PORT", integer(1, 65535), 8000, help="TCP port to listen on")

    config = read(NodeConfig, env)   # env: any mapping; None (the default) is os.environ
    print(describe(NodeConfig))       # the markdown table for docs/ and ``--help``

An unset variable, or one set to blank, takes the default; a setting without a default (or a
``factory`` that computes one when reading) is required. ``LOG_LEVEL`` is declared here once
for every service. A secret declared with ``file=True`` may instead come from the file that
``NAME_FILE`` names (Docker and Kubernetes secrets), never from both.

Errors: one class, ``SettingError`` (a ``ValueError``), and one wording, ``NAME: problem``::

    NODE_PORT: expected an integer from 1 to 65535, got 'abc'

A secret's value is never part of a message (``got 9 bytes``).

Pure standard library, no I/O but reading a ``*_FILE`` secret: Locust's gevent-patched
process imports it too, so it must never import asyncio or aiohttp.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

from servicekit.parsers import Parser, choice

T = TypeVar("T")
_KEY = "servicekit.setting"  # where a dataclass field keeps its Setting (field metadata)


class SettingError(ValueError):
    """A setting is missing or invalid; ``str()`` is ``NAME: problem``, one line."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Setting(Generic[T]):
    """One environment variable: its name, parser, default and meaning."""

    name: str
    parser: Parser[T]
    help: str
    #: ``MISSING``: required, unless ``factory`` computes the default at read time.
    default: Any = MISSING
    factory: Callable[[], T] | None = None
    #: How the default reads in docs when it is not a plain value (``the hostname``).
    shown: str | None = None
    #: Never echoed in an error, never in the dataclass's repr.
    secret: bool = False
    #: ``NAME_FILE`` may name a file whose content is the value (trailing newline removed).
    file: bool = False
    #: Whether a blank value means "unset" (most settings) or is itself checked.
    blank_is_unset: bool = True

    @property
    def required(self) -> bool:
        return self.default is MISSING and self.factory is None

    def parse(self, raw: str, name: str | None = None) -> T:
        """The value of ``raw``, or ``SettingError`` naming ``name`` (default: this setting)."""
        try:
            return self.parser.convert(raw)
        except ValueError:
            got = f"{len(raw.encode(errors='surrogateescape'))} bytes" if self.secret else repr(raw)
            raise SettingError(
                name or self.name, f"expected {self.parser.expected}, got {got}"
            ) from None

    def read(self, env: Mapping[str, str]) -> T:
        """This setting's value in ``env``: parsed, its default, or ``SettingError``."""
        found = self._raw(env)
        if found is not None:
            return self.parse(found[1], found[0])
        if self.factory is not None:
            return self.factory()
        if self.default is MISSING:
            alternative = f" (or {self.name}_FILE naming a file)" if self.file else ""
            raise SettingError(self.name, f"required{alternative}, not set")
        value: T = self.default
        return value

    def _raw(self, env: Mapping[str, str]) -> tuple[str, str] | None:
        """(the variable that holds the value, its text), or None when unset."""
        inline = self._value(env, self.name)
        path = self._value(env, f"{self.name}_FILE") if self.file else None
        if path is None:
            return None if inline is None else (self.name, inline)
        if inline is not None:
            raise SettingError(f"{self.name}_FILE", f"{self.name} is set too; set only one")
        return f"{self.name}_FILE", _read_secret(f"{self.name}_FILE", path)

    def _value(self, env: Mapping[str, str], name: str) -> str | None:
        value = env.get(name)
        if value is not None and self.blank_is_unset and not value.strip():
            return None
        return value


def _read_secret(name: str, path: str) -> str:
    try:
        data = Path(path).read_bytes().rstrip(b"\r\n")
    except OSError as exc:
        raise SettingError(name, f"cannot read {path!r}: {exc.strerror}") from exc
    # surrogateescape: any bytes survive the round trip to str and back (see ``secret_bytes``).
    return data.decode(errors="surrogateescape")


# --- declaring fields -------------------------------------------------------------------------


@overload
def setting(
    name: str,
    parser: Parser[T],
    default: T,
    *,
    help: str,
    shown: str | None = ...,
    blank_is_unset: bool = ...,
) -> T: ...
@overload
def setting(
    name: str,
    parser: Parser[T],
    *,
    help: str,
    factory: Callable[[], T] | None = ...,
    shown: str | None = ...,
    secret: bool = ...,
    file: bool = ...,
) -> T: ...
def setting(
    name: str,
    parser: Parser[Any],
    default: Any = MISSING,
    *,
    help: str,
    factory: Callable[[], Any] | None = None,
    shown: str | None = None,
    secret: bool = False,
    file: bool = False,
    blank_is_unset: bool = True,
) -> Any:
    """A dataclass field read from the variable ``name``; without a default (or a ``factory``
    computing it) the setting is required."""
    spec = Setting(name, parser, help, default, factory, shown, secret, file, blank_is_unset)
    return field_of(spec)


def field_of(spec: Setting[T]) -> T:
    """A dataclass field for a ``Setting`` declared elsewhere (one shared by two services).

    A ``factory`` default applies when reading the environment only: code that builds the
    config by hand still passes the field (a node's name is not guessed in tests)."""
    metadata = {_KEY: spec}
    declared: T = (
        dataclasses.field(repr=not spec.secret, metadata=metadata)
        if spec.default is MISSING
        else dataclasses.field(default=spec.default, repr=not spec.secret, metadata=metadata)
    )
    return declared


def settings_of(cls: type[Any]) -> tuple[Setting[Any], ...]:
    """The settings ``cls`` declares, in field order."""
    return tuple(spec for _, spec in _declared(cls))


def spec_of(cls: type[Any], field_name: str) -> Setting[Any]:
    """The ``Setting`` behind ``cls.field_name`` (to validate a value given in code)."""
    return dict(_declared(cls))[field_name]


def read(cls: type[T], env: Mapping[str, str] | None = None, **given: Any) -> T:
    """An instance of ``cls`` with every declared setting read from ``env`` (default
    ``os.environ``); ``given`` supplies fields that are not settings. The first bad setting
    raises ``SettingError``."""
    source = os.environ if env is None else env
    values = {spec_field: spec.read(source) for spec_field, spec in _declared(cls)}
    return cls(**values, **given)


def _declared(cls: type[Any]) -> list[tuple[str, Setting[Any]]]:
    return [(f.name, f.metadata[_KEY]) for f in dataclasses.fields(cls) if _KEY in f.metadata]


def describe(cls: type[Any]) -> str:
    """The declared settings of ``cls`` as a markdown table (docs, ``--help``)."""
    rows = ["| variable | value | default | meaning |", "| --- | --- | --- | --- |"]
    for spec in settings_of(cls):
        name = f"`{spec.name}` or `{spec.name}_FILE`" if spec.file else f"`{spec.name}`"
        rows.append(f"| {name} | {spec.parser.expected} | {_shown(spec)} | {spec.help} |")
    return "\n".join(rows)


def _shown(spec: Setting[Any]) -> str:
    if spec.shown is not None:
        return spec.shown
    if spec.required:
        return "required"
    value = spec.default
    if value is None or value == ():
        return "unset"
    if isinstance(value, bool):
        return "`1`" if value else "`0`"
    if isinstance(value, tuple):
        value = ",".join(map(str, value))
    return f"`{value}`"


#: ``LOG_LEVEL``, read by every service: any name ``logging`` knows, case-insensitive.
LOG_LEVEL = Setting(
    "LOG_LEVEL",
    choice(tuple(logging.getLevelNamesMapping()), upper=True),
    "the root logger's level",
    "INFO",
)
