"""An in-memory object store registered with Beam's FileSystems (scheme memobj://), for tests.

It behaves as GCS does: no directories, only names with slashes. Tests put bytes into
`ObjectStore.objects` (clear it first) and read them through assay's filesystem layer.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from apache_beam.io.filesystem import (BeamIOError, CompressedFile, CompressionTypes,
                                       FileMetadata, FileSystem)


def upload(local: Path, remote: str) -> str:
    """Puts a local file, or every file under a local directory, at `remote`; returns it."""
    local = Path(local)
    if local.is_file():
        ObjectStore.objects[remote] = local.read_bytes()
    for path in sorted(local.rglob("*")):
        if path.is_file():
            ObjectStore.objects[f"{remote}/{path.relative_to(local).as_posix()}"] = \
                path.read_bytes()
    return remote


class ObjectStore(FileSystem):
    """An in-memory object store for Beam's FileSystems (scheme memobj://), as GCS behaves."""

    objects: dict = {}

    @classmethod
    def scheme(cls):
        return "memobj"

    def join(self, basepath, *paths):
        return "/".join([basepath.rstrip("/")] + [p.strip("/") for p in paths])

    def split(self, path):
        head, _, tail = path.rpartition("/")
        return head, tail

    def has_dirs(self):
        return False

    def _list(self, prefix):
        for path, data in sorted(self.objects.items()):
            if path.startswith(prefix):
                yield FileMetadata(path, len(data))

    def open(self, path, mime_type="application/octet-stream",
             compression_type=CompressionTypes.AUTO):
        if path not in self.objects:
            raise BeamIOError("open failed", {path: FileNotFoundError(path)})
        stream = BytesIO(self.objects[path])
        if compression_type == CompressionTypes.AUTO:
            compression_type = CompressionTypes.detect_compression_type(path)
        if compression_type == CompressionTypes.UNCOMPRESSED:
            return stream
        return CompressedFile(stream, compression_type)

    def exists(self, path):
        return path in self.objects

    def size(self, path):
        return len(self.objects[path])

    def metadata(self, path):
        return FileMetadata(path, len(self.objects[path]))

    def mkdirs(self, path):
        pass

    def create(self, path, mime_type="application/octet-stream",
               compression_type=CompressionTypes.AUTO):
        # As GCS and S3: the object appears whole when the upload is closed, never before.
        bucket = path[len("memobj://"):].split("/", 1)[0]
        if bucket in self.missing_buckets:
            raise BeamIOError("create failed", {path: FileNotFoundError(
                f"404 The specified bucket does not exist: {bucket}")})
        objects = self.objects

        class Upload(BytesIO):
            def close(self):
                if not self.closed:
                    objects[path] = self.getvalue()
                super().close()

        return Upload()

    missing_buckets: set = set()  # buckets whose writes fail as a missing bucket's do

    def copy(self, *args):
        raise NotImplementedError

    def rename(self, *args):
        raise NotImplementedError

    def last_updated(self, path):
        raise NotImplementedError

    def checksum(self, path):
        raise NotImplementedError

    def delete(self, paths):
        # As GCS: a path ending in '/' deletes everything under it; a missing object is no error.
        for path in paths:
            for name in [n for n in self.objects
                         if n == path or (path.endswith("/") and n.startswith(path))]:
                del self.objects[name]
