"""The example database ``fuzz`` workers share: ``--db PATH`` or ``--db redis://host[:port][/n]``.

A spec is either

- ``redis://[[user]:password@]host[:port][/n]`` (port 6379 and database 0 by default): a
  :class:`~hypothesis.extra.redis.RedisExampleDatabase`, so fuzzers on many machines grow one
  corpus. The server is pinged once, with a short timeout and no retry, so a wrong address fails
  at once with :class:`DatabaseError` instead of at the first example. Needs the ``redis``
  package (in the ``dev`` extra).
- anything else: a directory, created if missing, holding a
  :class:`~hypothesis.database.DirectoryBasedExampleDatabase`. Worker processes on one machine
  may share it: Hypothesis writes each entry to a temporary file and renames it into place.
  (One known gap, from Hypothesis: a save can be lost if, at the same moment, another process
  deletes the last entry of the same key and removes the key's directory.)

Redis choices, against :class:`~hypothesis.extra.redis.RedisExampleDatabase`'s defaults:

- ``expire_after``: Hypothesis lets a key expire 8 days after it was last read or written, enough
  for weekly runs. A fuzz corpus is precious and a nightly job may be paused for weeks, so ours
  is :data:`EXPIRE_AFTER` (365 days); every fetch, save or delete of a key renews it.
- ``key_prefix`` and ``listener_channel``: :data:`KEY_PREFIX` and :data:`LISTENER_CHANNEL`, so
  this project's corpus can share a Redis database with other users, and can be listed or
  dropped on its own (``redis-cli --scan --pattern 'resilience-fuzz:*'``).

Close a database with :func:`close_database` when done (a Redis client holds sockets).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import SplitResult, unquote, urlsplit

from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

__all__ = [
    "EXPIRE_AFTER",
    "KEY_PREFIX",
    "LISTENER_CHANNEL",
    "DatabaseError",
    "close_database",
    "describe",
    "open_database",
    "redact",
]

#: How long a Redis corpus key lives after it was last read or written (Hypothesis: 8 days).
EXPIRE_AFTER = timedelta(days=365)
#: Prefix of every Redis key of this project's corpus (Hypothesis: ``b"hypothesis-example:"``).
KEY_PREFIX = b"resilience-fuzz:"
#: Pub/sub channel for change notifications (Hypothesis: ``"hypothesis-changes"``).
LISTENER_CHANNEL = "resilience-fuzz-changes"

DEFAULT_PORT = 6379
#: Seconds to connect to Redis and to wait for a reply.
DEFAULT_TIMEOUT = 5.0

_INSTALL_HINT = 'run `python -m pip install -e ".[dev]"`'
_USAGE = "use redis://host[:port][/n] or a directory path"


class DatabaseError(ValueError):
    """A ``--db`` spec that is malformed, or names a database that cannot be opened."""


class _RedisTarget(NamedTuple):
    host: str
    port: int
    db: int
    username: str | None
    password: str | None

    def url(self) -> str:
        """The normalized URL, the password replaced by ``***``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        auth = ""
        if self.username is not None or self.password is not None:
            auth = self.username or ""
            if self.password is not None:
                auth += ":***"
            auth += "@"
        return f"redis://{auth}{host}:{self.port}/{self.db}"


def redact(spec: str) -> str:
    """``spec`` with the password of a URL (``scheme://user:password@host``) shown as ``***``."""
    scheme, sep, rest = spec.partition("://")
    if not sep:
        return spec
    end = next((i for i, char in enumerate(rest) if char in "/?#"), len(rest))
    userinfo, at, hostport = rest[:end].rpartition("@")
    if not at or ":" not in userinfo:
        return spec
    user = userinfo.partition(":")[0]
    return f"{scheme}://{user}:***@{hostport}{rest[end:]}"


def _is_url(spec: str) -> bool:
    return "://" in spec


def _parse_redis(spec: str) -> _RedisTarget:
    shown = redact(spec)
    try:
        parts: SplitResult = urlsplit(spec)
    except ValueError as err:  # e.g. an unbalanced IPv6 bracket
        raise DatabaseError(f"malformed database URL {shown!r}: {err}") from None
    if parts.scheme.lower() != "redis":
        raise DatabaseError(
            f"unsupported database scheme {parts.scheme + '://'!r} in {shown!r}: {_USAGE}"
        )
    if parts.query or parts.fragment:
        raise DatabaseError(f"unexpected query or fragment in {shown!r}: {_USAGE}")
    host = parts.hostname
    if not host:
        raise DatabaseError(f"no host in {shown!r}: {_USAGE}")
    try:
        port = parts.port
    except ValueError:
        raise DatabaseError(f"the port in {shown!r} must be an integer from 1 to 65535") from None
    if port is None:
        port = DEFAULT_PORT
    elif port == 0:
        raise DatabaseError(f"the port in {shown!r} must be an integer from 1 to 65535")
    path = parts.path
    if path in ("", "/"):
        db = 0
    elif re.fullmatch(r"/[0-9]+", path):
        db = int(path[1:])
    else:
        raise DatabaseError(
            f"the database number in {shown!r} must be a non-negative integer, "
            f"got {path[1:]!r}: {_USAGE}"
        )
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return _RedisTarget(host, port, db, username, password)


def _check_spec(spec: str) -> None:
    if not isinstance(spec, str):
        raise DatabaseError(f"a database spec is a string, not {type(spec).__name__}")
    if not spec.strip():
        raise DatabaseError(f"empty database spec: {_USAGE}")


def describe(spec: str) -> str:
    """``spec`` for printing: ``redis://host:port/n`` (defaults filled in, password shown as
    ``***``) or ``directory /absolute/path``. Never raises: a malformed spec comes back as given,
    any password redacted."""
    try:
        _check_spec(spec)
        if _is_url(spec):
            return _parse_redis(spec).url()
        return f"directory {Path(spec).expanduser().absolute()}"
    except DatabaseError:
        return redact(spec) if isinstance(spec, str) else repr(spec)


def open_database(spec: str, *, timeout: float = DEFAULT_TIMEOUT) -> ExampleDatabase:
    """The example database ``spec`` names (see the module docstring).

    ``timeout`` bounds, in seconds, connecting to Redis and each reply. Raises
    :class:`DatabaseError` for a malformed spec, an unsupported scheme, a path that is a file or
    cannot be created, a missing ``redis`` package, or a Redis server that does not answer PING.
    """
    _check_spec(spec)
    if _is_url(spec):
        return _open_redis(_parse_redis(spec), timeout)
    return _open_directory(Path(spec).expanduser())


def close_database(database: ExampleDatabase) -> None:
    """Release what ``database`` holds (a Redis client's sockets); idempotent."""
    client = getattr(database, "redis", None)
    if client is not None:
        client.close()


def _open_directory(path: Path) -> ExampleDatabase:
    if path.exists() and not path.is_dir():
        raise DatabaseError(f"database path {str(path)!r} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatabaseError(
            f"cannot create database directory {str(path)!r}: {err.strerror or err}"
        ) from None
    return DirectoryBasedExampleDatabase(path)


def _open_redis(target: _RedisTarget, timeout: float) -> ExampleDatabase:
    try:
        import redis
        from hypothesis.extra.redis import RedisExampleDatabase
        from redis.backoff import NoBackoff
        from redis.retry import Retry
    except ImportError as err:
        raise DatabaseError(
            f"a redis:// database needs the redis package ({err}): {_INSTALL_HINT}"
        ) from None

    options: dict[str, Any] = {
        "host": target.host,
        "port": target.port,
        "db": target.db,
        "username": target.username,
        "password": target.password,
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
    }
    # The probe does not retry (the client's default retry backs off for seconds): a wrong
    # address fails within ``timeout``. The client keeps redis-py's retry for the long run.
    with redis.Redis(**options, retry=Retry(NoBackoff(), 0)) as probe:
        try:
            probe.ping()
        except redis.AuthenticationError as err:
            raise DatabaseError(f"Redis at {target.url()} refused us: {err}") from None
        except (redis.ConnectionError, redis.TimeoutError) as err:
            raise DatabaseError(f"cannot reach Redis at {target.url()}: {err}") from None
        except redis.RedisError as err:  # e.g. a database number out of range
            raise DatabaseError(f"Redis at {target.url()} refused us: {err}") from None
    client = redis.Redis(**options)
    return RedisExampleDatabase(
        client,
        expire_after=EXPIRE_AFTER,
        key_prefix=KEY_PREFIX,
        listener_channel=LISTENER_CHANNEL,
    )
