"""The exact text of every configuration error a user reads, in one place: a change of wording
means editing these tables, nothing else. (Which field each error names, for many more bad
configurations, is ``test_config_errors.py``'s subject.)"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from resilience import ConfigError, build_pipeline, load_config
from resilience.config import OperationConfig, ResilienceConfig, Section
from tests.ids import stable_id


def op(**sections: Any) -> dict[str, Any]:
    """A configuration with one operation, ``search``, made of ``sections``."""
    return {"operations": {"search": sections}}


TB = {"algorithm": "token_bucket", "limit": 5, "per": 1}

UNKNOWN = "unknown key; expected one of:"
SECTION_KEYS = f"{UNKNOWN} preset, order, rate_limit, bulkhead, retry, breaker, pool"
RETRY_KEYS = f"{UNKNOWN} max_attempts, deadline, base_delay, max_delay, retry_on"
ALGORITHMS = "must be one of token_bucket, gcra, fixed_window, sliding_log, sliding_counter"
PRESETS = "must be one of conservative, balanced, aggressive, or false"
NAME_RULE = "an operation's name must be a non-empty string of letters, digits, '_' and '-'"
FALLBACK_RULE = "cannot come from a file: a fallback is code (Pipeline(fallback=...))"
TABLE = "must be a table (a JSON object)"
SECTION = "must be a table of settings, or false to leave it out"
NO_DEFAULT = "must be given: there is no default"

# (configuration, the start of str(ConfigError): "field=value", the rule); load_config raises it
MESSAGES: list[tuple[object, str, str]] = [
    # the shape of the document
    ([], "config=[]", TABLE),
    ({"operations": {"search": 3}}, "operations.search=3", TABLE),
    ({"operations": {1: {}}}, "operations=1", "keys must be strings"),
    (op(retry={1: 3}), "operations.search.retry=1", "keys must be strings"),
    ({"operation": {}}, "operation={}", f"{UNKNOWN} defaults, operations"),
    (op(retries={}), "operations.search.retries={}", SECTION_KEYS),
    (op(retry={"max_atempts": 3}), "operations.search.retry.max_atempts=3", RETRY_KEYS),
    (op(fallback="cached"), "operations.search.fallback='cached'", FALLBACK_RULE),
    (op(retry={"fallback": 1}), "operations.search.retry.fallback=1", FALLBACK_RULE),
    ({"operations": {"a.b": {}}}, "operations.a.b='a.b'", NAME_RULE),
    ({"operations": {"": {}}}, "operations.=''", NAME_RULE),
    (op(preset="fast"), "operations.search.preset='fast'", PRESETS),
    (op(retry=True), "operations.search.retry=True", SECTION),
    (op(retry=[1]), "operations.search.retry=[1]", TABLE),
    # the type of each setting
    (
        op(retry={"max_attempts": "3"}),
        "operations.search.retry.max_attempts='3'",
        "must be an integer or null (no limit)",
    ),
    (
        op(retry={"max_attempts": 2.0}),
        "operations.search.retry.max_attempts=2.0",
        "must be an integer or null (no limit)",
    ),
    (
        op(bulkhead={"max_concurrent": "2"}),
        "operations.search.bulkhead.max_concurrent='2'",
        "must be an integer",
    ),
    (
        op(retry={"base_delay": "0.1"}),
        "operations.search.retry.base_delay='0.1'",
        "must be a number of seconds",
    ),
    (
        op(retry={"deadline": "1"}),
        "operations.search.retry.deadline='1'",
        "must be a number of seconds or null (no limit)",
    ),
    (
        op(breaker={"failure_rate_threshold": "0.5"}),
        "operations.search.breaker.failure_rate_threshold='0.5'",
        "must be a number",
    ),
    (op(pool={"size": 1, "lifo": 1}), "operations.search.pool.lifo=1", "must be true or false"),
    (
        op(retry={"retry_on": "ValueError"}),
        "operations.search.retry.retry_on='ValueError'",
        "must be a list of exception class names",
    ),
    (
        op(rate_limit={**TB, "algorithm": "leaky"}),
        "operations.search.rate_limit.algorithm='leaky'",
        ALGORITHMS,
    ),
    # settings the component cannot do without
    (op(bulkhead={}), "operations.search.bulkhead.max_concurrent=None", NO_DEFAULT),
    (
        op(rate_limit={"algorithm": "gcra", "per": 1}),
        "operations.search.rate_limit.limit=None",
        NO_DEFAULT,
    ),
]


@pytest.mark.parametrize(("raw", "written", "rule"), MESSAGES, ids=stable_id)
def test_each_configuration_error_reads_exactly(raw: object, written: str, rule: str) -> None:
    """load_config's refusal, word for word: the path, the value as written, the rule."""
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    assert info.value.rule == rule
    assert str(info.value) == f"{written} is invalid: {rule}"


def tree(**sections: Any) -> ResilienceConfig:
    """A tree built in code (no file, so no type checks) with one operation, ``search``."""
    return ResilienceConfig(operations={"search": OperationConfig(**sections)})


NOT_A_CLASS = "is not an exception class of builtins or resilience.errors"

# (a tree built in code, "field=value", the rule): what building its components refuses
TREES: list[tuple[ResilienceConfig, str, str]] = [
    (
        tree(retry=Section({"retry_on": ("Nope",)})),
        "operations.search.retry.retry_on=('Nope',)",
        f"'Nope' {NOT_A_CLASS}",
    ),
    (
        tree(breaker=Section({"expected_exception": ("ValueError", "Nope")})),
        "operations.search.breaker.expected_exception=('ValueError', 'Nope')",
        f"'Nope' {NOT_A_CLASS}",
    ),
    (
        tree(rate_limit=Section({"algorithm": "gcra", "limit": 2.5, "per": 1})),
        "operations.search.rate_limit.limit=2.5",
        "must be an integer >= 1",
    ),
]


@pytest.mark.parametrize(("config", "written", "rule"), TREES, ids=[t[1] for t in TREES])
def test_each_error_in_a_tree_built_in_code_reads_exactly(
    config: ResilienceConfig, written: str, rule: str
) -> None:
    """A tree built in code skips the file's type checks, but its components still refuse it,
    at the full path of the setting, as for a file."""
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert info.value.rule == rule
    assert str(info.value) == f"{written} is invalid: {rule}"


# (configuration, str(error.__cause__)): the component's own refusal, chained to the error
# load_config raises and shown with it in a traceback, in the component's terms
CAUSES: list[tuple[object, str]] = [
    (
        op(rate_limit={**TB, "algorithm": "fixed_window", "burst": 3}),
        "burst=3 is invalid: applies to token_bucket and gcra, not fixed_window",
    ),
    (op(rate_limit={**TB, "limit": 0}), "limit=0 is invalid: must be an integer >= 1"),
    (op(retry={"max_attempts": 0}), "max_attempts=0 is invalid: must be an integer >= 1"),
]


@pytest.mark.parametrize(("raw", "cause"), CAUSES, ids=stable_id)
def test_the_components_own_refusal_is_the_cause(raw: object, cause: str) -> None:
    """The error at the full path is raised from the component's refusal, value included."""
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    assert isinstance(info.value.__cause__, ConfigError)
    assert str(info.value.__cause__) == cause


def test_a_pool_without_a_factory_says_a_factory_is_code() -> None:
    """A pool section built without factories names the missing factory and how to give it."""
    config = load_config(op(pool={"size": 2}))
    with pytest.raises(ConfigError) as info:
        build_pipeline(config, "search")
    rule = "a pool needs a factory, and a factory is code: pass factories={name: callable}"
    assert info.value.rule == rule
    assert str(info.value) == f"operations.search.pool.factory=None is invalid: {rule}"


def test_an_unknown_operation_names_itself_and_the_known_ones() -> None:
    """build_pipeline for a name the configuration lacks: a KeyError listing the known names."""
    config = load_config({"operations": {"search": {}, "pay": {}}})
    with pytest.raises(KeyError) as info:
        build_pipeline(config, "serach")
    assert info.value.args == ("no operation named 'serach'; known operations: 'search', 'pay'",)


# ---------------------------------------------------------------- the file itself


def _toml_error(text: str) -> str:
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        return str(error)
    raise AssertionError("the text parses")


def _utf8_error(data: bytes) -> str:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        return str(error)
    raise AssertionError("the bytes decode")


BAD_TOML = "[operations.search]\nretry = { max_attempts = 3\n"
NOT_UTF8 = b"# caf\xe9\n"


def _directory(path: Path) -> None:
    path.mkdir()


# (file name, how to make it, the rule); the field is "source", the value the path as a str
FILES: list[tuple[str, Callable[[Path], object] | None, str]] = [
    ("settings.yaml", lambda p: p.write_text("{}"), "must be a .json or .toml file"),
    ("missing.toml", None, "no such file"),
    ("folder.json", _directory, "cannot be read: Is a directory"),
    (
        "latin.toml",
        lambda p: p.write_bytes(NOT_UTF8),
        f"is not UTF-8 text: {_utf8_error(NOT_UTF8)}",
    ),
    (
        "bad.json",
        lambda p: p.write_text('{\n  "operations": {\n    "search": {,}\n  }\n}\n'),
        "malformed JSON at line 3, column 16: Expecting property name enclosed in double quotes",
    ),
    ("bad.toml", lambda p: p.write_text(BAD_TOML), f"malformed TOML: {_toml_error(BAD_TOML)}"),
]


@pytest.mark.parametrize(("name", "make", "rule"), FILES, ids=[f[0] for f in FILES])
def test_each_file_error_reads_exactly(
    tmp_path: Path, name: str, make: Callable[[Path], object] | None, rule: str
) -> None:
    """A file that cannot be used is refused at ``source``, naming the file and what is wrong."""
    path = tmp_path / name
    if make is not None:
        make(path)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.field == "source"
    assert info.value.value == str(path)
    assert info.value.rule == rule
    assert str(info.value) == f"source={str(path)!r} is invalid: {rule}"
