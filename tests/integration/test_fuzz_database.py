"""The fuzz command's shared example database: a real redis-server on 127.0.0.1, and a directory
database written by two processes at once."""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase
from hypothesis.extra.redis import RedisExampleDatabase

from properties.fuzz.database import (
    EXPIRE_AFTER,
    KEY_PREFIX,
    DatabaseError,
    close_database,
    describe,
    open_database,
)
from tests.integration.redis_server import RedisServer, free_port


@contextlib.contextmanager
def opened(spec: str, **options: Any) -> Iterator[ExampleDatabase]:
    database = open_database(spec, **options)
    try:
        yield database
    finally:
        close_database(database)


# --- Redis ----------------------------------------------------------------------------------


def test_redis_round_trip_is_shared_by_two_clients(redis_server: RedisServer) -> None:
    url = redis_server.url(3)
    key, other = b"round-trip", b"round-trip-moved"
    values = [b"", b"\x00\xff\x80 binary", bytes(range(256))]
    with opened(url) as first, opened(url) as second:
        assert isinstance(first, RedisExampleDatabase)
        assert first.redis is not second.redis  # two clients, one corpus
        for value in values:
            first.save(key, value)
        first.save(key, values[1])  # saving twice keeps one copy
        assert sorted(second.fetch(key)) == sorted(values)

        second.move(key, other, values[0])
        assert sorted(first.fetch(key)) == sorted(values[1:])
        assert list(first.fetch(other)) == [values[0]]

        first.delete(key, values[1])
        assert list(second.fetch(key)) == [values[2]]
        second.delete(key, values[2])
        assert list(first.fetch(key)) == []

        # Our prefix, and our time to live rather than Hypothesis' 8 days.
        ttl = first.redis.ttl(KEY_PREFIX + other)
        assert EXPIRE_AFTER.total_seconds() - 60 < ttl <= EXPIRE_AFTER.total_seconds()
        assert first.redis.exists(b"hypothesis-example:" + other) == 0

    with opened(redis_server.url(4)) as elsewhere:  # the database number is honoured
        assert list(elsewhere.fetch(other)) == []
    admin = redis_server.admin()
    try:
        assert admin.execute_command("SELECT", 3)
        assert admin.smembers(KEY_PREFIX + other) == {values[0]}
    finally:
        admin.close()


def test_redis_with_username_and_password(redis_server: RedisServer) -> None:
    admin = redis_server.admin()
    try:
        assert admin.acl_setuser(
            "fuzzer", enabled=True, passwords=["+s3cret"], keys=["*"], commands=["+@all"]
        )
    finally:
        admin.close()
    good = f"redis://fuzzer:s3cret@127.0.0.1:{redis_server.port}/3"
    assert describe(good) == f"redis://fuzzer:***@127.0.0.1:{redis_server.port}/3"
    with opened(good) as database:
        database.save(b"auth", b"value")
        assert list(database.fetch(b"auth")) == [b"value"]

    bad = f"redis://fuzzer:wrong-pass@127.0.0.1:{redis_server.port}/3"
    with pytest.raises(DatabaseError, match="refused") as caught:
        open_database(bad)
    assert "fuzzer:***@127.0.0.1" in str(caught.value)
    assert "wrong-pass" not in str(caught.value)


def test_redis_database_number_out_of_range(redis_server: RedisServer) -> None:
    with pytest.raises(DatabaseError, match=r"redis://127\.0\.0\.1:\d+/99 refused us: .*range"):
        open_database(redis_server.url(99))


def test_unreachable_redis_fails_fast_naming_the_address() -> None:
    port = free_port()  # nothing listens there now
    started = time.monotonic()
    with pytest.raises(DatabaseError) as caught:
        open_database(f"redis://:topsecret@127.0.0.1:{port}", timeout=0.5)
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert message.startswith(f"cannot reach Redis at redis://:***@127.0.0.1:{port}/0: ")
    assert "topsecret" not in message
    assert elapsed < 2.0, f"took {elapsed:.2f} s: the probe must not retry with backoff"


def test_missing_redis_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "hypothesis.extra.redis", None)
    with pytest.raises(DatabaseError, match=re.escape('python -m pip install -e ".[dev]"')):
        open_database("redis://127.0.0.1:1/0")


# --- specs and directories --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("http://x", r"unsupported database scheme 'http://' in 'http://x'"),
        ("redis://h/notanumber", r"database number .* non-negative integer, got 'notanumber'"),
        ("redis://h/-1", r"database number .* got '-1'"),
        ("", r"empty database spec"),
        ("   ", r"empty database spec"),
        ("redis://", r"no host in 'redis://'"),
        ("redis://h:99999/0", r"port in 'redis://h:99999/0' must be an integer"),
        ("redis://h:0/0", r"port .* must be an integer"),
        ("redis://h/0?db=1", r"unexpected query"),
        ("http://user:pw@x", r"'http://user:\*\*\*@x'"),
    ],
)
def test_bad_specs_are_database_errors(spec: str, expected: str) -> None:
    with pytest.raises(DatabaseError, match=expected) as caught:
        open_database(spec)
    assert isinstance(caught.value, ValueError)
    assert "pw@" not in str(caught.value)


def test_describe() -> None:
    assert describe("redis://example.org") == "redis://example.org:6379/0"
    assert describe("redis://:pw@example.org:7000/2") == "redis://:***@example.org:7000/2"
    assert describe("redis://[::1]/5") == "redis://[::1]:6379/5"
    assert describe("http://u:pw@x/y") == "http://u:***@x/y"  # malformed: as given, redacted
    assert describe("corpus") == f"directory {Path('corpus').absolute()}"


def test_a_file_is_not_a_directory_database(tmp_path: Path) -> None:
    path = tmp_path / "corpus"
    path.write_bytes(b"not a database")
    with pytest.raises(DatabaseError, match=r"exists and is not a directory"):
        open_database(str(path))
    with pytest.raises(DatabaseError, match=r"cannot create database directory"):
        open_database(str(path / "below"))
    assert path.read_bytes() == b"not a database"


def test_a_directory_spec_creates_the_directory(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "corpus"
    database = open_database(str(path))
    assert isinstance(database, DirectoryBasedExampleDatabase)
    assert path.is_dir()
    assert describe(str(path)) == f"directory {path}"
    database.save(b"key", b"value")
    again = open_database(str(path))  # reopening keeps the corpus
    assert list(again.fetch(b"key")) == [b"value"]
    close_database(again)  # a no-op for a directory


# --- two processes, one directory ---------------------------------------------------------------

KEYS = (b"shared-key-0", b"shared-key-1", b"shared-key-2")
SAVES = 300


def _value(writer: str, index: int) -> bytes:
    """A distinct value per writer and index; its tail (1 to 7 digests) exposes a torn write."""
    digest = hashlib.sha256(f"{writer}/{index}".encode()).digest()
    return f"{writer}:{index % len(KEYS)}:{index}:".encode() + digest * (1 + index % 7)


def _well_formed(value: bytes, key_index: int) -> bool:
    try:
        writer, key, index, _payload = value.split(b":", 3)
        return int(key) == key_index and value == _value(writer.decode(), int(index))
    except ValueError:  # too few fields, or not a number: torn or foreign
        return False


def _deletes(index: int) -> int | None:
    """The index a writer deletes after saving ``index``: never one of its first value of a key,
    so a key's directory is never emptied (Hypothesis removes an emptied key directory, and a
    concurrent save into it can then be lost: a known gap, not what this test is about)."""
    return index - 3 if index >= 6 and index % 4 == 0 else None


def _directory_writer(path: str, tempdir: str, writer: str, barrier: Any, results: Any) -> None:
    """One process of the test below (spawned): saves, deletes and reads while the other does."""
    try:
        tempfile.tempdir = tempdir  # Hypothesis' temporary files: where the test can see them
        database = open_database(path)
        kept: set[int] = set()
        problems: list[str] = []
        barrier.wait(timeout=30)
        started = time.time()
        for index in range(SAVES):
            key_index = index % len(KEYS)
            database.save(KEYS[key_index], _value(writer, index))
            kept.add(index)
            gone = _deletes(index)
            if gone is not None:
                database.delete(KEYS[key_index], _value(writer, gone))
                kept.discard(gone)
            if index % 5 == 0:  # read while the other process writes
                fetched = list(database.fetch(KEYS[key_index]))
                torn = [v for v in fetched if not _well_formed(v, key_index)]
                if torn:
                    problems.append(f"{writer} read malformed values {torn[:3]!r}")
                mine = {v for v in fetched if v.startswith(f"{writer}:".encode())}
                expected = {_value(writer, i) for i in kept if i % len(KEYS) == key_index}
                if mine != expected:
                    problems.append(
                        f"{writer} after save {index}: {len(expected - mine)} own values missing, "
                        f"{len(mine - expected)} deleted values still there"
                    )
        results.put((writer, sorted(kept), problems, started, time.time()))
    except BaseException:
        results.put((writer, None, [traceback.format_exc()], 0.0, 0.0))
        raise


def test_two_processes_share_one_directory_database(tmp_path: Path) -> None:
    path = tmp_path / "corpus"
    tempdir = tmp_path / "tmp"
    tempdir.mkdir()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    writers = ("alpha", "beta")
    processes = [
        context.Process(
            target=_directory_writer, args=(str(path), str(tempdir), writer, barrier, results)
        )
        for writer in writers
    ]
    try:
        for process in processes:
            process.start()
        reports = {report[0]: report for report in (results.get(timeout=30) for _ in writers)}
        for process in processes:
            process.join(timeout=10)
            assert process.exitcode == 0, f"{process.name} exited with {process.exitcode}"
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join()
        results.close()
        results.join_thread()

    for _writer, kept, problems, _started, _ended in reports.values():
        assert problems == []
        assert kept is not None
    # They ran at the same time, not one after the other.
    assert max(r[3] for r in reports.values()) < min(r[4] for r in reports.values())

    database = open_database(str(path))
    for key_index, key in enumerate(KEYS):
        expected = {
            _value(writer, index)
            for writer, kept, *_ in reports.values()
            for index in kept
            if index % len(KEYS) == key_index
        }
        fetched = list(database.fetch(key))
        assert len(fetched) == len(set(fetched))
        assert set(fetched) == expected
        assert len(expected) > SAVES // len(KEYS)  # both writers' values, some deleted
    assert set(database.fetch(b".hypothesis-keys")) == set(KEYS)

    # Nothing but one directory per key (and Hypothesis' key index), each holding only entries.
    entries = sorted(path.iterdir())
    assert len(entries) == len(KEYS) + 1
    assert all(entry.is_dir() for entry in entries)
    stored = sum(len(list(entry.iterdir())) for entry in entries)
    kept_total = sum(len(kept) for _writer, kept, *_ in reports.values())
    assert stored == kept_total + len(KEYS)
    assert list(tempdir.iterdir()) == []  # no stray temporary file
