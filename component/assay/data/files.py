"""The one filesystem layer: local paths and every filesystem Apache Beam knows (gs://, s3://, ...).

    is_remote("gs://bucket/eval")           # True: it has a scheme
    files, subdirs = list_dir("gs://bucket/Examples/7")
    with open_read("gs://bucket/eval/data.tfrecord.gz") as f: head = f.read(12)
    local = local_copy("s3://bucket/model.joblib", tmpdir)   # a file or a whole directory

One rule says whether a path is remote: it starts with a scheme (`gs://`, `s3://`, `hdfs://`,
...). Local paths use the os module, without importing Beam; remote paths go through Beam's
FileSystems, imported on first use (importing Beam takes seconds). Object stores have no
directories, only names with slashes; `is_dir` and `list_dir` treat a common prefix as one.

`write_text` is the one atomic writer of local text files.
"""

from __future__ import annotations

import glob
import os
import re
import tempfile
from typing import BinaryIO, List, Sequence, Tuple, Union

from assay.errors import InputNotFound

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
HEAD_BYTES = 1 << 16  # enough to tell a format by, and to size CSV blocks


def filesystems():
    """Beam's FileSystems class, imported on first use."""
    from apache_beam.io.filesystems import FileSystems

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
    fs = filesystems()
    if fs.exists(path):
        return False
    return bool(fs.match([path + "/**"], limits=[1])[0].metadata_list)


def exists(path: str) -> bool:
    """True when a file or a directory (on an object store: a prefix) is at `path`."""
    if not is_remote(path):
        return os.path.exists(path)
    return filesystems().exists(path) or is_dir(path)


def match(pattern: str) -> List[str]:
    """The files (not directories) a glob matches, `**` included; unsorted."""
    if not is_remote(pattern):
        return [p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p)]
    return [m.path for m in filesystems().match([pattern])[0].metadata_list]


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
    return [m.path for m in filesystems().match([root + "**"])[0].metadata_list]


def open_read(path: str) -> BinaryIO:
    """The file's bytes as stored (never decompressed: the readers tell gzip by its bytes).

    Raises:
      FileNotFoundError: nothing at `path`; the message names it.
    """
    if not is_remote(path):
        return open(path, "rb")  # FileNotFoundError names the path
    from apache_beam.io.filesystem import CompressionTypes

    try:
        return filesystems().open(path, compression_type=CompressionTypes.UNCOMPRESSED)
    except FileNotFoundError:
        raise
    except Exception as e:  # Beam wraps a missing file differently on each filesystem.
        if not filesystems().exists(path):
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
    """Writes `text` to the local file `path` so that it is never seen half-written.

    The text goes to a temporary file beside `path`, which is then renamed over it; on any
    failure the temporary file is removed and `path` is left as it was. Returns `path`.
    """
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, mode)  # mkstemp makes the file private; results are for reading
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path
