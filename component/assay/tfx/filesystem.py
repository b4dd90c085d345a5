"""A TFX filesystem plugin backed by Beam's FileSystems, for schemes TensorFlow cannot serve.

TFX creates and reads its artifact directories through `tfx.dsl.io.fileio`, which uses
TensorFlow's file systems. TensorFlow 2.16 has no s3://, and its gs:// cannot be pointed at an
emulator (it ignores STORAGE_EMULATOR_HOST). After

    assay.tfx.filesystem.register(["s3://"], beam_pipeline_args=[
        "--s3_endpoint_url=...", "--s3_access_key_id=...", "--s3_secret_access_key=...",
        "--s3_region_name=..."])

TFX reaches those schemes through Beam (and assay's own filesystem layer, `assay.data.files`,
with the same options), so a pipeline root such as s3://bucket/root works with LocalDagRunner.
Registration is explicit and per process (TFX's registry is a process-wide table): a runner that
starts components in other processes must register there too.

Object stores have no directories: `makedirs` writes nothing, `isdir` is true for a prefix that
holds objects (or a name ending in '/'), `rmtree` deletes every object under the prefix.
"""

from __future__ import annotations

import io
from typing import Any, Iterable, List, Optional, Sequence, Tuple

from tfx.dsl.io import filesystem, filesystem_registry

from assay.data import files, options

PRIORITY = 5  # before TensorFlow's gfile plugin (10)


class BeamFilesystem(filesystem.Filesystem):
    """tfx.dsl.io's Filesystem interface on `assay.data.files` (Beam's FileSystems)."""

    SUPPORTED_SCHEMES: List[str] = []

    @staticmethod
    def open(name, mode: str = "r") -> Any:
        name = _str(name)
        if mode.startswith("r"):
            if not files.exists(name):
                raise filesystem.NotFoundError(f"no such file: {name}")
            raw = files.open_read(name)
        elif mode.startswith("w"):
            raw = files.filesystems().create(name)
        else:
            raise ValueError(f"mode {mode!r} is not supported on {name} (use r, rb, w or wb)")
        return raw if "b" in mode else io.TextIOWrapper(raw, encoding="utf-8")

    @staticmethod
    def copy(src, dst, overwrite: bool = False) -> None:
        src, dst = _str(src), _str(dst)
        if not overwrite and BeamFilesystem.exists(dst):
            raise OSError(f"{dst} exists (copy without overwrite)")
        with BeamFilesystem.open(src, "rb") as f, BeamFilesystem.open(dst, "wb") as g:
            g.write(f.read())

    @staticmethod
    def exists(path) -> bool:
        return files.exists(_str(path))

    @staticmethod
    def glob(pattern) -> List[str]:
        return sorted(files.match(_str(pattern)))

    @staticmethod
    def isdir(path) -> bool:
        return files.is_dir(_str(path))

    @staticmethod
    def listdir(path) -> List[str]:
        paths, subdirs = files.list_dir(_str(path), hidden=True)
        return [files.basename(p) for p in paths] + list(subdirs)

    @staticmethod
    def makedirs(path) -> None:
        pass  # an object store has no directories

    @staticmethod
    def mkdir(path) -> None:
        pass

    @staticmethod
    def remove(path) -> None:
        path = _str(path)
        if not files.filesystems().exists(path):
            raise filesystem.NotFoundError(f"no such file: {path}")
        files.filesystems().delete([path])

    @staticmethod
    def rename(src, dst, overwrite: bool = False) -> None:
        src, dst = _str(src), _str(dst)
        if not overwrite and BeamFilesystem.exists(dst):
            raise OSError(f"{dst} exists (rename without overwrite)")
        if files.filesystems().exists(src):
            files.filesystems().rename([src], [dst])
            return
        root = src.rstrip("/") + "/"
        sources = files.match(root + "**")
        if not sources:
            raise filesystem.NotFoundError(f"no such file or directory: {src}")
        files.filesystems().rename(sources, [dst.rstrip("/") + "/" + s[len(root):]
                                             for s in sources])

    @staticmethod
    def rmtree(path) -> None:
        path = _str(path)
        if not files.is_dir(path):
            raise filesystem.NotFoundError(f"no such directory: {path}")
        found = files.match(path.rstrip("/") + "/**")
        if found:
            files.filesystems().delete(found)

    @staticmethod
    def stat(path) -> Any:
        return files.filesystems().metadata(_str(path))

    @staticmethod
    def walk(top, topdown: bool = True, onerror=None) -> Iterable[Tuple[str, List[str],
                                                                          List[str]]]:
        top = _str(top).rstrip("/")
        paths, subdirs = files.list_dir(top, hidden=True)
        here = (top, list(subdirs), [files.basename(p) for p in paths])
        if topdown:
            yield here
        for name in subdirs:
            yield from BeamFilesystem.walk(f"{top}/{name}", topdown, onerror)
        if not topdown:
            yield here


def _str(path) -> str:
    return path.decode("utf-8") if isinstance(path, bytes) else str(path)


def register(schemes: Sequence[str] = ("s3://",),
             beam_pipeline_args: Optional[Sequence[str]] = None) -> None:
    """Serves `schemes` (e.g. "s3://", "gs://") through Beam's FileSystems for TFX in this
    process; `beam_pipeline_args` (the pipeline's, with the store's options) are applied to
    Beam's FileSystems (`assay.data.options.set_options`) when given.

    Example:
        >>> register(["s3://"], ["--s3_endpoint_url=http://127.0.0.1:9000"])  # doctest: +SKIP
    """
    for scheme in schemes:
        if not scheme.endswith("://"):
            raise ValueError(f"a scheme ends with '://' (got {scheme!r})")
    BeamFilesystem.SUPPORTED_SCHEMES = sorted(set(BeamFilesystem.SUPPORTED_SCHEMES)
                                              | set(schemes))
    filesystem_registry.DEFAULT_FILESYSTEM_REGISTRY.register(BeamFilesystem, PRIORITY)
    if beam_pipeline_args is not None:
        options.set_options(beam_pipeline_args)


__all__ = ["BeamFilesystem", "register"]
