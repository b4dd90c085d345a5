"""Filesystem options: how Beam's FileSystems reach the stores behind gs://, s3://, ...

    set_options(["--s3_endpoint_url=http://127.0.0.1:9000", "--s3_access_key_id=...",
                 "--s3_secret_access_key=...", "--s3_region_name=us-east-1"])
    files.list_dir("s3://bucket/eval")     # every read and write of this process now uses them

Beam's S3 filesystem is configured only by pipeline options (--s3_endpoint_url,
--s3_access_key_id, --s3_secret_access_key, --s3_region_name, --s3_disable_ssl, ...); GCS by its
own options and the environment (application default credentials, STORAGE_EMULATOR_HOST). A Beam
runner hands the pipeline's options to the file systems of the workers it starts itself, but
nothing hands them to the driver (which lists the data, sniffs formats, copies models and
publishes results) or to the workers of an external worker pool. So `assay.evaluate` calls
`set_options(beam_pipeline_args)` once, before its first read, and the Beam engine's DoFns call
it in `setup` with the same arguments.

Applying the options imports Beam; when Beam is not loaded yet (the local engine never loads it)
they are kept and applied by `assay.data.files.filesystems()` on its first use.
"""

from __future__ import annotations

import os
import sys
from typing import Optional, Sequence, Tuple

from assay.errors import StorageError

_args: Tuple[str, ...] = ()
_pending = False  # set_options was called and Beam's FileSystems have not been given them yet
_applied = False  # Beam's FileSystems hold the options of _args


def set_options(beam_pipeline_args: Optional[Sequence[str]]) -> None:
    """Makes this process's file systems use these Beam pipeline arguments (replacing earlier
    ones). No arguments means Beam's defaults (e.g. S3 credentials from the environment).

    Example:
      >>> set_options(["--s3_region_name=eu-west-1"]); current_args()
      ('--s3_region_name=eu-west-1',)
    """
    global _args, _pending
    if isinstance(beam_pipeline_args, str):
        raise TypeError(f"beam_pipeline_args must be a list of strings (got the string "
                        f"{beam_pipeline_args!r})")
    args = tuple(beam_pipeline_args or ())
    if args == _args and _applied:
        return  # cheap when called again with the same arguments (a DoFn's setup, per bundle)
    _args = args
    _pending = True
    if "apache_beam.io.filesystems" in sys.modules:
        apply_pending()


def current_args() -> Tuple[str, ...]:
    """The arguments last given to `set_options` (what a worker should set in turn)."""
    return _args


def apply_pending() -> None:
    """Hands the arguments of the last `set_options` call to Beam's FileSystems, once."""
    global _pending, _applied
    if not _pending:
        return
    from apache_beam.io.filesystems import FileSystems

    FileSystems.set_options(pipeline_options())
    _pending, _applied = False, True


def pipeline_options():
    """Beam's PipelineOptions built from `current_args()`."""
    from apache_beam.options.pipeline_options import PipelineOptions

    return PipelineOptions(list(_args))


def put_empty_s3_object(path: str) -> None:
    """Writes an empty object (a marker such as blessing/BLESSED) at an s3:// path.

    Beam's S3 writer always makes a multipart upload and completes it with no part for empty
    data, which S3 refuses (MalformedXML); one PutObject through Beam's own boto3 client (the
    same options: endpoint, keys, region) writes it.
    """
    from apache_beam.io.aws import s3io

    bucket, key = s3io.parse_s3_path(path)
    s3io.S3IO(options=pipeline_options()).client.client.put_object(Bucket=bucket, Key=key,
                                                                    Body=b"")


def bucket_of(path: str) -> Tuple[str, str]:
    """(scheme, bucket) of a remote path: ("s3", "data") for "s3://data/eval/x.gz"."""
    scheme, _, rest = path.partition("://")
    return scheme, rest.split("/", 1)[0]


def missing_bucket(path: str) -> Optional[str]:
    """The bucket of an s3:// or gs:// path when its store says it does not exist; None when it
    exists, when the store cannot tell (no access), or for other schemes."""
    scheme, bucket = bucket_of(path)
    try:
        if scheme == "s3":
            from apache_beam.io.aws import s3io

            client = s3io.S3IO(options=pipeline_options()).client.client  # boto3's own client
            try:
                client.head_bucket(Bucket=bucket)
            except client.exceptions.ClientError as e:
                code = str(e.response.get("Error", {}).get("Code"))
                return bucket if code in ("404", "NoSuchBucket") else None
            return None
        if scheme == "gs":
            from apache_beam.io.gcp import gcsio

            client = gcsio.GcsIO(pipeline_options=pipeline_options()).client
            return bucket if client.lookup_bucket(bucket) is None else None
    except Exception:  # the store cannot be asked: say nothing about the bucket
        return None
    return None


def check_bucket(path: str, doing: str = "read") -> None:
    """Raises StorageError naming the bucket when `path`'s bucket does not exist."""
    bucket = missing_bucket(path)
    if bucket is not None:
        endpoint = _endpoint(bucket_of(path)[0])
        raise StorageError(f"cannot {doing} {path}: bucket {bucket!r} does not exist "
                           f"({'at ' + endpoint + '; ' if endpoint else ''}"
                           f"expected an existing bucket that this process may use)")


def _endpoint(scheme: str) -> str:
    """The non-default endpoint the store is reached at, to name in messages ('' if none)."""
    if scheme == "gs":
        return os.environ.get("STORAGE_EMULATOR_HOST", "")
    for arg in _args:
        if arg.startswith("--s3_endpoint_url="):
            return arg.split("=", 1)[1]
    return ""


def storage_error(path: str, error: BaseException, doing: str = "read") -> StorageError:
    """The StorageError for a failed operation on `path`: names the bucket when it is missing,
    else the store's own reason (the innermost of Beam's wrapped errors)."""
    from assay.extras import MissingExtra

    if isinstance(error, MissingExtra):  # no Beam installed: name the extra (still raisable)
        return error  # type: ignore[return-value]
    path = path[:-3].rstrip("/") if path.endswith("**") else path  # name the prefix listed
    try:
        check_bucket(path, doing)
    except StorageError as e:
        return e
    inner = getattr(error, "exception_details", None)
    if isinstance(inner, dict) and inner:
        error = next(iter(inner.values()))
    text = (str(error).strip().splitlines() or [""])[0][:300]
    return StorageError(f"cannot {doing} {path}: {type(error).__name__}: {text}")


__all__ = ["apply_pending", "bucket_of", "check_bucket", "current_args", "missing_bucket",
           "pipeline_options", "set_options", "storage_error"]
