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
from assay.mlmd.uri import redact

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
    check_sqlite_store(path)
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = path
    config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return config


_SQLITE_MAGIC = b"SQLite format 3\x00"


def check_sqlite_store(path: str) -> None:
    """Refuses an SQLite store path that ml-metadata would fail on with a raw SQL error, or
    that it would silently fill: a path that cannot be opened or written, a file that is not
    SQLite, or an SQLite database of someone else's (tables, but no ML Metadata MLMDEnv).

    Raises:
      MetadataError: names the store file and what is wrong with it.
    """
    import errno
    import sqlite3
    import stat

    store = f"the ML Metadata store {path!r} (SQLite)"
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except OSError as e:
        cause = ("its symbolic links form a loop" if e.errno == errno.ELOOP else
                 e.strerror or str(e))
        raise MetadataError(f"cannot open {store}: {cause}") from None
    if info is None:  # a new store: its directory must take the file
        if not os.access(os.path.dirname(os.path.abspath(path)) or ".", os.W_OK | os.X_OK):
            raise MetadataError(f"cannot create {store}: its directory is not writable "
                                f"(assay runs as user id {os.getuid()})")
        return
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise MetadataError(f"cannot open {store}: it is {kind}; --mlmd sqlite:PATH names "
                            f"a database file")
    if not os.access(path, os.R_OK | os.W_OK):
        raise MetadataError(f"cannot open {store} for reading and writing: permission denied "
                            f"(assay runs as user id {os.getuid()})")
    if info.st_size == 0:
        return  # an empty file: ml-metadata creates its tables in it
    with open(path, "rb") as f:
        head = f.read(len(_SQLITE_MAGIC))
    if head != _SQLITE_MAGIC:
        raise MetadataError(f"{store} is not an SQLite database (it starts with {head[:16]!r}); "
                            f"give a new path or an ML Metadata store")
    try:
        with contextlib.closing(sqlite3.connect(
                f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro", uri=True)) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE "
                                               "type = 'table'")}
            env = list(db.execute("SELECT schema_version FROM MLMDEnv")) \
                if "MLMDEnv" in tables else []
    except sqlite3.Error as e:
        raise MetadataError(f"cannot read {store}: {e}") from None
    if tables and not env:
        shown = ", ".join(sorted(tables)[:8]) + (" ..." if len(tables) > 8 else "")
        raise MetadataError(f"{store} is an SQLite database but not an ML Metadata store: it "
                            f"has no MLMDEnv table holding a schema version (its tables: "
                            f"{shown}); give a new path or an ML Metadata store")


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
            hint = ""
            if config.HasField("mysql"):
                where = config.mysql.socket or f"{config.mysql.host}:{config.mysql.port}"
                hint = (f" (is a MySQL/MariaDB server running at {where}, and do its user, "
                        f"password and database '{config.mysql.database}' exist?)")
            raise MetadataError(f"ML Metadata: {what} failed: {e}{hint}") from None

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
