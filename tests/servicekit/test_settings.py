"""The settings reader: parsers, defaults, the one error wording, ``*_FILE`` secrets, docs.

Pure: no event loop, no network; the environment is a plain dict.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from servicekit.parsers import (
    BOOLEAN,
    PATH,
    Parser,
    choice,
    comma_list,
    integer,
    matching,
    number,
    secret_bytes,
    text,
)
from servicekit.settings import (
    LOG_LEVEL,
    SettingError,
    describe,
    field_of,
    read,
    setting,
    settings_of,
    spec_of,
)


@dataclass(frozen=True, slots=True)
class Example:
    """Every kind of declaration the services use."""

    secret: bytes = setting("X_SECRET", secret_bytes(8), secret=True, file=True, help="a key")
    name: str = setting("X_NAME", text(), factory=lambda: "computed", help="a name")
    port: int = setting("X_PORT", integer(1, 65535), 8000, help="a port")
    ratio: float = setting("X_RATIO", number(0.0, 1.0), 0.5, help="a share")
    timeout: float = setting("X_TIMEOUT", number(above=0.0), 2.0, help="seconds")
    mode: str = setting("X_MODE", choice(("a", "b")), "a", help="a mode")
    label: str = setting("X_LABEL", text(), "x", help="kept blank", blank_is_unset=False)
    ports: tuple[int, ...] = setting(
        "X_PORTS", comma_list(integer(), "comma-separated ports"), (), help="ports"
    )
    drain: float | None = setting("X_DRAIN", number(0.0), None, help="optional")
    level: str = field_of(LOG_LEVEL)
    extra: str = "not a setting"


BASE = {"X_SECRET": "k" * 8}


def test_defaults_come_from_the_one_declaration() -> None:
    config = read(Example, BASE)
    assert (config.port, config.ratio, config.timeout, config.mode) == (8000, 0.5, 2.0, "a")
    assert (config.name, config.ports, config.drain, config.level) == ("computed", (), None, "INFO")
    assert config.secret == b"k" * 8 and config.extra == "not a setting"
    assert Example(secret=b"s", name="n").port == 8000  # the dataclass default is the same one


@pytest.mark.parametrize(
    ("env", "field", "value"),
    [
        ({"X_PORT": "9000"}, "port", 9000),
        ({"X_PORT": " 9000 "}, "port", 9000),
        ({"X_PORT": ""}, "port", 8000),
        ({"X_PORT": "   "}, "port", 8000),
        ({"X_RATIO": "1"}, "ratio", 1.0),
        ({"X_RATIO": "0"}, "ratio", 0.0),
        ({"X_TIMEOUT": "inf"}, "timeout", float("inf")),
        ({"X_MODE": "b"}, "mode", "b"),
        ({"X_NAME": "given"}, "name", "given"),
        ({"X_LABEL": ""}, "label", ""),
        ({"X_PORTS": "1, 2,,3"}, "ports", (1, 2, 3)),
        ({"X_DRAIN": "0"}, "drain", 0.0),
        ({"LOG_LEVEL": "debug"}, "level", "DEBUG"),
        ({"LOG_LEVEL": "warn"}, "level", "WARN"),
    ],
)
def test_values_are_parsed(env: dict[str, str], field: str, value: Any) -> None:
    assert getattr(read(Example, {**BASE, **env}), field) == value


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"X_PORT": "abc"}, "X_PORT: expected an integer from 1 to 65535, got 'abc'"),
        ({"X_PORT": "0"}, "X_PORT: expected an integer from 1 to 65535, got '0'"),
        ({"X_PORT": "65536"}, "X_PORT: expected an integer from 1 to 65535, got '65536'"),
        ({"X_PORT": "80.5"}, "X_PORT: expected an integer from 1 to 65535, got '80.5'"),
        ({"X_RATIO": "1.01"}, "X_RATIO: expected a number from 0 to 1, got '1.01'"),
        ({"X_RATIO": "nan"}, "X_RATIO: expected a number from 0 to 1, got 'nan'"),
        ({"X_TIMEOUT": "0"}, "X_TIMEOUT: expected a number > 0, got '0'"),
        ({"X_DRAIN": "-1"}, "X_DRAIN: expected a number >= 0, got '-1'"),
        ({"X_MODE": "c"}, "X_MODE: expected one of a, b, got 'c'"),
        ({"X_PORTS": "1,x"}, "X_PORTS: expected comma-separated ports, got '1,x'"),
        ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL: expected one of CRITICAL, FATAL, ERROR, WARN"),
        ({"X_SECRET": ""}, "X_SECRET: required (or X_SECRET_FILE naming a file), not set"),
        ({"X_SECRET": "short"}, "X_SECRET: expected at least 8 bytes, got 5 bytes"),
    ],
)
def test_one_wording_that_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingError) as caught:
        read(Example, {**BASE, **env})
    assert str(caught.value).startswith(message)
    assert caught.value.name == message.split(":")[0]
    assert isinstance(caught.value, ValueError) and "\n" not in str(caught.value)


def test_a_secret_is_never_echoed() -> None:
    with pytest.raises(SettingError) as caught:
        read(Example, {"X_SECRET": "hunter2"})
    assert "hunter2" not in str(caught.value)
    assert "k" * 8 not in repr(read(Example, BASE))


def test_secret_from_a_file_keeps_every_byte_but_the_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_bytes(b"\xff\x00binary-key\r\n")
    assert read(Example, {"X_SECRET_FILE": str(path)}).secret == b"\xff\x00binary-key"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"X_SECRET_FILE": "/nonexistent"}, "X_SECRET_FILE: cannot read '/nonexistent'"),
        ({"X_SECRET_FILE": "{short}"}, "X_SECRET_FILE: expected at least 8 bytes, got 3 bytes"),
        ({"X_SECRET_FILE": "{long}", "X_SECRET": "k" * 8}, "X_SECRET_FILE: X_SECRET is set too"),
    ],
)
def test_secret_file_errors_name_the_file_variable(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    (tmp_path / "short").write_text("abc\n")
    (tmp_path / "long").write_text("a" * 40)
    env = {k: v.format(short=tmp_path / "short", long=tmp_path / "long") for k, v in env.items()}
    with pytest.raises(SettingError, match="^" + message):
        read(Example, env)


def test_a_blank_secret_variable_leaves_the_file_in_charge(tmp_path: Path) -> None:
    (tmp_path / "s").write_text("f" * 8)
    assert read(Example, {"X_SECRET": "", "X_SECRET_FILE": str(tmp_path / "s")}).secret == b"f" * 8


def test_parsers_on_their_own() -> None:
    assert PATH.convert("/a/b") == Path("/a/b")
    project = matching(r"[a-z]+", "lower-case letters")
    assert project.convert("abc") == "abc"
    with pytest.raises(ValueError):
        project.convert("abc1")
    assert integer(0).expected == "an integer >= 0" and integer().expected == "an integer"
    assert number(None, 2.5).expected == "a number <= 2.5"
    assert integer(60, 30 * 86400).expected == "an integer from 60 to 2592000"
    assert choice(("X",), upper=True).convert("x") == "X"


@pytest.mark.parametrize(
    ("raw", "value"), [("1", True), (" On ", True), ("0", False), ("no", False)]
)
def test_boolean(raw: str, value: bool) -> None:
    assert BOOLEAN.convert(raw) is value
    with pytest.raises(ValueError):
        BOOLEAN.convert("2")


def test_spec_of_validates_a_value_given_in_code() -> None:
    spec = spec_of(Example, "mode")
    assert spec.parse("b") == "b"
    with pytest.raises(SettingError, match=r"^X_MODE: expected one of a, b, got 'z'$"):
        spec.parse("z")


def test_describe_lists_every_setting_once_with_its_default() -> None:
    names = [spec.name for spec in settings_of(Example)]
    assert names[:3] == ["X_SECRET", "X_NAME", "X_PORT"] and names[-1] == "LOG_LEVEL"
    assert len(names) == len(set(names)) == len(dataclasses.fields(Example)) - 1  # not `extra`
    table = describe(Example).splitlines()
    assert table[0] == "| variable | value | default | meaning |"
    assert "| `X_SECRET` or `X_SECRET_FILE` | at least 8 bytes | required | a key |" in table
    assert "| `X_PORT` | an integer from 1 to 65535 | `8000` | a port |" in table
    assert "| `X_DRAIN` | a number >= 0 | unset | optional |" in table
    assert len(table) == 2 + len(names)


def test_custom_parser_errors_use_the_same_wording() -> None:
    def even(raw: str) -> int:
        value = int(raw)
        if value % 2:
            raise ValueError(raw)
        return value

    @dataclass(frozen=True)
    class Even:
        n: int = setting("X_EVEN", Parser("an even integer", even), 2, help="even")

    assert read(Even, {"X_EVEN": "4"}).n == 4
    with pytest.raises(SettingError, match=r"^X_EVEN: expected an even integer, got '3'$"):
        read(Even, {"X_EVEN": "3"})


def test_the_reader_imports_no_asyncio() -> None:
    """Locust's gevent-patched process imports it (loadtest/locustfile.py)."""
    code = (
        "import sys, servicekit.settings; "
        "print(sorted({m.split('.')[0] for m in sys.modules} "
        "& {'asyncio', 'aiohttp', 'redis', 'nodes', 'balancer', 'cluster', 'loadtest'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
