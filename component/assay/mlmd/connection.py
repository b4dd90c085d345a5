"""Connecting to ML Metadata, and turning its failures into assay's MetadataError.

    store = connect("sqlite:metadata.db")          # or "mysql://user:pass@host:3306/db"

Every call into ml-metadata from `assay.mlmd` goes through `reported` or `with_retries`, so a
store that cannot be reached, read or written surfaces as `assay.errors.MetadataError` (exit
status 5) naming what assay was doing; callers never catch ml_metadata's own errors.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import time
import urllib.parse
from typing import Callable, Iterator, TypeVar

from ml_metadata import errors
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

from assay.config import values
from assay.errors import ConfigError, MetadataError

_log = logging.getLogger(__name__)

# The conflicts that concurrent writers to one MySQL/MariaDB store meet (two runs registering
# the same type, context or input artifact at once): the step is worth running again.
_RETRIED = (errors.AlreadyExistsError, errors.AbortedError, errors.InternalError,
            errors.UnavailableError, errors.DeadlineExceededError)
_ATTEMPTS = 8

T = TypeVar("T")


def connection_config(uri: str) -> pb.ConnectionConfig:
    """The ml-metadata ConnectionConfig for `sqlite:PATH` or `mysql://user:pass@host:port/db`.

    `mariadb://` is accepted as a synonym of `mysql://`; `?socket=/path/to/socket` connects
    through a Unix socket. The password may be percent-encoded (`p%40ss` for `p@ss`).

    Raises:
      ConfigError: the URI is malformed (ConfigTypeError: it is not a string).

    Example:
        >>> connection_config("mysql://ml:secret@db.local:3306/metadata").mysql.database
        'metadata'
        >>> connection_config("sqlite:/tmp/metadata.db").sqlite.filename_uri
        '/tmp/metadata.db'
    """
    values.expect(uri, (str,), "a string", "--mlmd")
    if uri.startswith("sqlite:"):
        return _sqlite_config(uri)
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme in ("mysql", "mariadb"):
        return _mysql_config(uri, parsed)
    raise ConfigError(f"'--mlmd' must be sqlite:PATH or mysql://user:password@host:port/database "
                      f"(got {redact(uri)!r})")


def _sqlite_config(uri: str) -> pb.ConnectionConfig:
    path = uri[len("sqlite:"):]
    if path.startswith("//"):      # sqlite:///abs/path, as SQLAlchemy writes it
        path = path[2:]
    if not path:
        raise ConfigError(f"'--mlmd' {uri!r} names no file; write sqlite:PATH, e.g. "
                          f"sqlite:metadata.db")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ConfigError(f"'--mlmd' {uri!r}: the directory {parent} does not exist")
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = path
    config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return config


def _mysql_config(uri: str, parsed: urllib.parse.SplitResult) -> pb.ConnectionConfig:
    database = parsed.path.lstrip("/")
    if not database or "/" in database:
        raise ConfigError(f"'--mlmd' {redact(uri)!r} names no database; write "
                          f"mysql://user:password@host:port/database")
    query = urllib.parse.parse_qs(parsed.query)
    unknown = sorted(set(query) - {"socket"})
    if unknown:
        raise ConfigError(f"'--mlmd' {redact(uri)!r}: unknown option {unknown[0]!r}; the "
                          f"only option is ?socket=/path/to/mysqld.sock")
    try:
        port = parsed.port
    except ValueError:
        raise ConfigError(f"'--mlmd' {redact(uri)!r}: the port must be a number") from None
    if not parsed.hostname and "socket" not in query:
        raise ConfigError(f"'--mlmd' {redact(uri)!r} names no host; write "
                          f"mysql://user:password@host:port/database")
    config = pb.ConnectionConfig()
    config.mysql.database = database
    if parsed.hostname:
        config.mysql.host = parsed.hostname
    config.mysql.port = port or 3306
    if "socket" in query:
        config.mysql.socket = query["socket"][-1]
    if parsed.username:
        config.mysql.user = urllib.parse.unquote(parsed.username)
    if parsed.password:
        config.mysql.password = urllib.parse.unquote(parsed.password)
    return config


def redact(uri: str) -> str:
    """The store URI with its password replaced by ***, for messages and logs.

    Example:
        >>> redact("mysql://ml:secret@db:3306/md")
        'mysql://ml:***@db:3306/md'
    """
    parsed = urllib.parse.urlsplit(uri)
    if parsed.password:
        return uri.replace(f":{parsed.password}@", ":***@", 1)
    return uri


def connect(uri: str) -> metadata_store.MetadataStore:
    """A MetadataStore for `sqlite:PATH` or `mysql://user:pass@host:port/db` (see
    connection_config). The schema is created on first use.

    Raises:
      ConfigError: the URI is malformed.
      MetadataError: the store cannot be reached (after retries).
    """
    config = connection_config(uri)
    what = f"connecting to {redact(uri)}"

    def open_store() -> metadata_store.MetadataStore:
        try:
            return metadata_store.MetadataStore(config)
        except RuntimeError as e:
            # ml-metadata reports a server it cannot reach (MySQL's mysql_real_connect) as a
            # plain RuntimeError, not as one of its StatusErrors.
            raise MetadataError(f"ML Metadata: {what} failed: {e}") from e

    return with_retries(open_store, what)


@contextlib.contextmanager
def reported(what: str) -> Iterator[None]:
    """Turns ml-metadata's errors inside the block into a MetadataError that says `what` failed."""
    try:
        yield
    except errors.StatusError as e:
        first = (str(e).splitlines() or [""])[0][:500]
        raise MetadataError(f"ML Metadata: {what} failed: {type(e).__name__}: {first}") from e


def with_retries(step: Callable[[], T], what: str) -> T:
    """Runs `step`, again after a short random pause when a concurrent writer got in the way.

    Raises:
      MetadataError: the step failed for another reason, or still failed after the retries.
    """
    with reported(what):
        for attempt in range(_ATTEMPTS):
            try:
                return step()
            except _RETRIED as e:
                if attempt == _ATTEMPTS - 1:
                    raise
                _log.info("%s: %s (%s); retrying", what, type(e).__name__,
                          str(e).splitlines()[0][:200] if str(e) else "")
                # Random, growing pauses, so that colliding writers do not collide again.
                time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))
    raise AssertionError("unreachable")


__all__ = ["connect", "connection_config", "redact", "reported", "with_retries"]
