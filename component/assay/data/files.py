"""The one filesystem layer: local paths and every filesystem Apache Beam knows (gs://, s3://, ...).

    is_remote("gs://bucket/eval")           # True: it has a scheme
    files, subdirs = list_dir("gs://bucket/Examples/7")
    with open_read("gs://bucket/eval/data.tfrecord.gz") as f: head = f.read(12)
    local = local_copy("s3://bucket/model.joblib", tmpdir)   # a file or a whole directory

One rule says whether a path is remote: it starts with a scheme (`gs://`, `s3://`, `hdfs://`,
...). Local paths use the os module, without importing Beam; remote paths go through Beam's
FileSystems, imported on first use (importing Beam takes seconds). Object stores have no
directories, only names with slashes; `is_dir` and `list_dir` treat a common prefix as one.

`write_text` is the one writer of results: atomic on local disks (a rename), one object upload
on object stores. `remove`, `remove_tree` and `file_sizes` serve `assay.results.publish`.
"""

from __future__ import annotations

import glob
import os
import re
import stat
import shutil
import tempfile
from typing import BinaryIO, Dict, List, Optional, Sequence, Tuple, Union

from assay.data import options
from assay.errors import InputNotFound, StorageError

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
HEAD_BYTES = 1 << 16  # enough to tell a format by, and to size CSV blocks


def filesystems():
    """Beam's FileSystems class, imported on first use."""
    from assay.extras import require

    FileSystems = require("apache_beam.io.filesystems", "beam",
                          "remote paths (gs://, s3://, ...)").FileSystems
    options.apply_pending()  # the options of assay.data.options.set_options, once Beam is here
    return FileSystems


def is_remote(path: Union[str, os.PathLike]) -> bool:
    """True for a path with a scheme such as gs:// (read through Beam), False for a local one.

    Example:
      >>> is_remote("gs://bucket/model"), is_remote("/models/7")
      (True, False)
    """
    return _SCHEME.match(os.fspath(path)) is not None


def is_local(paths: Union[str, Sequence[str]]) -> bool:
    """True when every path is on this machine's filesystem (none has a scheme such as gs://)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    return not any(is_remote(p) for p in paths)


def join(directory: str, *names: str) -> str:
    """`directory`/`names`, with the separator of the path's filesystem."""
    if not is_remote(directory):
        return os.path.join(directory, *names)
    return filesystems().join(directory, *names) if names else directory


def basename(path: str) -> str:
    """The last component of `path` (a trailing slash is ignored)."""
    path = path.rstrip("/")
    return os.path.basename(path) if not is_remote(path) else filesystems().split(path)[1]


def is_hidden(path: str) -> bool:
    """True for names that data directories hide: `.crc` files, `_SUCCESS` markers."""
    return basename(path).startswith((".", "_"))


def is_dir(path: str) -> bool:
    """True for a directory, or for a prefix under which an object store holds objects."""
    if not is_remote(path):
        return os.path.isdir(path)
    if path.endswith("/"):
        return True
    if _exists_remote(path):
        return False
    return bool(_matched(path + "/**", limit=1))


def _exists_remote(path: str) -> bool:
    """Beam's exists(), its clients' errors (credentials, network) as a StorageError."""
    try:
        return filesystems().exists(path)
    except Exception as e:  # each Beam filesystem raises its client's own errors
        raise options.storage_error(path, e, "read") from e


def exists(path: str) -> bool:
    """True when a file or a directory (on an object store: a prefix) is at `path`."""
    if not is_remote(path):
        return local_stat(path) is not None  # a symlink loop or a denied parent raises
    found = _exists_remote(path) or is_dir(path)
    if not found:
        options.check_bucket(path)  # a missing bucket is a StorageError that names it
    return found


def match(pattern: str) -> List[str]:
    """The files (not directories) a glob matches, `**` included; unsorted."""
    if not is_remote(pattern):
        return [p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p)]
    return [m.path for m in _matched(pattern)]


def list_dir(directory: str, hidden: bool = False) -> Tuple[List[str], List[str]]:
    """(paths of the files directly in `directory`, names of its subdirectories), both sorted.

    Names starting with '.' or '_' are left out unless `hidden`.
    """
    if not is_remote(directory):
        files, subdirs = [], []
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if entry.name.startswith((".", "_")) and not hidden:
                continue
            if entry.is_dir():
                subdirs.append(entry.name)
            else:
                files.append(os.path.join(directory, entry.name))
        return files, subdirs
    root = directory.rstrip("/") + "/"
    files, names = [], set()
    for path in _objects_under(root):
        rest = path[len(root):]
        head = rest.split("/", 1)[0]
        if head.startswith((".", "_")) and not hidden:
            continue
        if "/" in rest:
            names.add(head)
        else:
            files.append(path)
    return sorted(files), sorted(names)


def _objects_under(root: str) -> List[str]:
    return [m.path for m in _matched(root + "**")]


def _matched(pattern: str, limit: Optional[int] = None) -> list:
    """Beam's FileMetadata of the objects `pattern` matches; StorageError when the store fails
    (naming the bucket when it does not exist)."""
    try:
        return filesystems().match([pattern], limits=[limit] if limit else None)[0].metadata_list
    except Exception as e:  # each Beam filesystem raises its client's own errors
        raise options.storage_error(pattern, e, "list") from e


def local_stat(path: str) -> Optional[os.stat_result]:
    """os.stat of a local path; None when nothing is there (a dangling symlink included).

    Raises:
      StorageError: the path cannot be resolved or looked at (a symlink loop, a directory that
        may not be searched); the message names the path and the cause.
    """
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        raise input_error(path, e) from None


def input_error(path: str, error: OSError) -> Exception:
    """The error of assay's tree for an operating-system error on the local input `path`:
    InputNotFound where nothing is, StorageError (exit 6) naming the path and the cause."""
    import errno

    if error.errno in (errno.ENOENT, errno.ENOTDIR):
        if os.path.islink(path):
            return InputNotFound(f"no such file: {path!r} is a symbolic link to "
                                 f"{os.readlink(path)!r}, which does not exist")
        return InputNotFound(f"no such file or directory: {path!r}")
    cause = {errno.ELOOP: "it cannot be resolved: its symbolic links form a loop",
             errno.EACCES: f"permission denied (assay runs as user id {os.getuid()})",
             errno.EPERM: f"operation not permitted (assay runs as user id {os.getuid()})",
             errno.EISDIR: "it is a directory, and a file is needed here"}.get(
        error.errno, error.strerror or str(error))
    return StorageError(f"cannot read {path!r}: {cause}")


def open_read(path: str) -> BinaryIO:
    """The file's bytes as stored (never decompressed: the readers tell gzip by its bytes).

    Raises:
      InputNotFound: (a FileNotFoundError) nothing at `path`; the message names it.
      StorageError: a local path that is not a regular file (a directory, a FIFO, a device) or
        cannot be read (permissions, a symlink loop); the message names the path and the cause.
    """
    if not is_remote(path):
        found = local_stat(path)
        if found is None:
            raise input_error(path, FileNotFoundError(2, "No such file", path))
        if not stat.S_ISREG(found.st_mode) and not stat.S_ISDIR(found.st_mode):
            # Opening a FIFO for reading would wait for a writer forever.
            raise StorageError(f"cannot read {path!r}: it is not a regular file (a FIFO, a "
                               f"socket or a device); assay reads data, configs and models "
                               f"from files")
        try:
            return open(path, "rb")
        except OSError as e:
            raise input_error(path, e) from None
    from apache_beam.io.filesystem import CompressionTypes

    try:
        return filesystems().open(path, compression_type=CompressionTypes.UNCOMPRESSED)
    except FileNotFoundError:
        raise
    except Exception as e:  # Beam wraps a missing file differently on each filesystem.
        if not exists(path):  # a missing bucket raises StorageError here
            raise InputNotFound(f"no such file: {path!r}") from e
        raise


def read_head(path: str, size: int = HEAD_BYTES) -> bytes:
    """The first `size` bytes of the file, as stored."""
    with open_read(path) as f:
        return f.read(size)


def local_copy(path: str, tmpdir: str) -> str:
    """A local path to the file or directory: itself, or a copy of a remote one inside `tmpdir`.

    Lets libraries that read only local files (joblib, Keras, TensorFlow without the scheme's
    plugin) load models from any filesystem Beam knows.

    Example:
      >>> local_copy("/models/7/model.joblib", "/tmp/x")
      '/models/7/model.joblib'
    """
    if not is_remote(path):
        return path
    local = os.path.join(tmpdir, basename(path) or "model")
    if not is_dir(path):
        _copy_file(path, local)
        return local
    root = path.rstrip("/") + "/"
    for remote in _objects_under(root):
        if not remote.endswith("/"):  # some stores keep empty "directory" markers
            _copy_file(remote, os.path.join(local, *remote[len(root):].split("/")))
    os.makedirs(local, exist_ok=True)
    return local


def _copy_file(remote: str, local: str) -> None:
    os.makedirs(os.path.dirname(local), exist_ok=True)
    with open_read(remote) as src, open(local, "wb") as dst:
        while True:
            chunk = src.read(1 << 22)
            if not chunk:
                return
            dst.write(chunk)


def write_text(path: str, text: str, mode: int = 0o644) -> str:
    """Writes `text` (as UTF-8) to `path` as `write_bytes` does; returns `path`."""
    return write_bytes(path, text.encode("utf-8"), mode)


def write_bytes(path: str, data: bytes, mode: int = 0o644) -> str:
    """Writes `data` to `path` so that it is never seen half-written; returns `path`.

    A local file is written to a temporary file beside `path`, then renamed over it; on any
    failure the temporary file is removed and `path` is left as it was. A remote path is one
    object written in one upload (GCS and S3 show an object only once it is complete).

    Raises:
      StorageError: the location cannot be written; names the path and the cause.
    """
    path = os.fspath(path)
    if is_remote(path):
        _write_remote(path, data)
        return path
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{os.path.basename(path)}.",
                                   suffix=".tmp")
    except OSError as e:
        raise StorageError(f"cannot write {path}: {e.strerror or e}; expected a writable "
                           f"directory") from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)  # mkstemp makes the file private; results are for reading
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(e, OSError) and not isinstance(e, StorageError):
            raise StorageError(f"cannot write {path}: {e.strerror or e}") from e
        raise
    return path


def _write_remote(path: str, data: bytes) -> None:
    from apache_beam.io.filesystem import CompressionTypes

    try:
        if not data and path.startswith("s3://"):  # Beam's S3 writer fails on 0 bytes
            return options.put_empty_s3_object(path)
        f = filesystems().create(path, mime_type="application/octet-stream",
                                 compression_type=CompressionTypes.UNCOMPRESSED)
        with f:
            f.write(data)
    except StorageError:
        raise
    except Exception as e:  # each Beam filesystem raises its client's own errors
        raise options.storage_error(path, e, "write") from e


def file_sizes(directory: str) -> Dict[str, int]:
    """{path relative to `directory` ('/'-separated): size in bytes} of every file under it."""
    if not is_remote(directory):
        out = {}
        for root, _, names in os.walk(directory):
            for name in names:
                full = os.path.join(root, name)
                out[os.path.relpath(full, directory).replace(os.sep, "/")] = \
                    os.path.getsize(full)
        return out
    root = directory.rstrip("/") + "/"
    return {m.path[len(root):]: m.size_in_bytes for m in _matched(root + "**")
            if not m.path.endswith("/")}


def remove(path: str) -> None:
    """Removes one file or object if it is there (nothing happens when it is not)."""
    if not is_remote(path):
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise StorageError(f"cannot remove {path}: {e.strerror or e}") from e
        return
    if filesystems().exists(path):
        remove_objects([path])


def remove_tree(directory: str) -> None:
    """Removes a directory, or every object under a prefix (`directory`/...), if there."""
    if not is_remote(directory):
        if os.path.isdir(directory):
            shutil.rmtree(directory)
        return
    remove_objects([directory.rstrip("/") + "/" + name for name in file_sizes(directory)])


def remove_objects(paths: List[str]) -> None:
    """Removes these objects (remote paths, as listed: no prefixes), in batched calls."""
    try:
        if paths:
            filesystems().delete(paths)
    except Exception as e:  # each Beam filesystem raises its client's own errors
        raise options.storage_error(paths[0], e, "delete") from e
