"""Artifact URIs -> the paths this container reads and writes, as KFP's launcher lays them out.

KFP's launcher (kfp 2.13's backend, component.LocalPathForURI; the SDK's Artifact.path agrees)
makes remote artifacts available at local paths:

    gs://b/x            /gcs/b/x
    minio://b/x         /minio/b/x
    s3://b/x            /s3/b/x
    oci://reg/repo:tag  /oci/reg_repo:tag/models    ('/' -> '_'; a KServe modelcar image,
                                                     its model files under /models)

each under $ARTIFACT_LOCAL_PATH when the launcher has it set (its local-debugging root; the
launcher runs in this container, so the variable is ours too). A local URI is its own path.

Example:
    >>> local_path("oci://quay.io/org/model:1.0")
    '/oci/quay.io_org_model:1.0/models'
"""

from __future__ import annotations

import os
from typing import Optional, Tuple

from assay.kfp.parameters import ExecutorInputError

_MOUNTS = (("gs://", "/gcs/"), ("minio://", "/minio/"), ("s3://", "/s3/"))
_OCI = "oci://"
_MODEL_SUFFIXES = (".joblib", ".pkl", ".pickle", ".keras", ".h5")


def _mount(uri: str) -> Optional[Tuple[str, str]]:
    """(the mount's root directory, the local path) of a remote URI; None for a local one."""
    root = os.environ.get("ARTIFACT_LOCAL_PATH", "")
    for prefix, mount in _MOUNTS:
        if uri.startswith(prefix):
            return root + mount.rstrip("/"), root + mount + uri[len(prefix):]
    if uri.startswith(_OCI):
        # An image reference has no directories: the launcher flattens it to one name.
        escaped = uri[len(_OCI):].replace("/", "_")
        return root + "/oci", f"{root}/oci/{escaped}/models"
    return None


def local_path(uri: str) -> str:
    """Where KFP's launcher makes the artifact with this URI available in the container.

    Example:
        >>> local_path("minio://mlpipeline/v2/artifacts/run/eval")
        '/minio/mlpipeline/v2/artifacts/run/eval'
    """
    mount = _mount(uri)
    return uri if mount is None else mount[1]


def artifact_path(uri: str) -> str:
    """Where this process reads or writes an artifact: the launcher's mount of the URI when this
    machine has the mount (`local_path`), otherwise the URI itself (minio:// as s3://), read
    through assay's filesystem layer.

    Raises:
      ExecutorInputError: an oci:// URI whose modelcar mount is absent (an image in a
        registry cannot be read as files; only KFP's launcher can mount it).

    Example:
        >>> artifact_path("/tmp/local/uri")
        '/tmp/local/uri'
    """
    mount = _mount(uri)
    if mount is None:
        return uri
    root, mounted = mount
    if uri.startswith(_OCI):
        if not os.path.isdir(mounted):
            raise ExecutorInputError(
                f"the model {uri} is an OCI image, which KFP's launcher mounts at {mounted}; "
                f"that directory does not exist here (is this task running under KFP with "
                f"modelcar support, and does the image hold its files under /models?)")
        return mounted
    if os.path.isdir(root):
        return mounted
    return "s3://" + uri[len("minio://"):] if uri.startswith("minio://") else uri


def model_path(path: str) -> str:
    """The model to load from a KFP Model artifact's path.

    A Model artifact is one path: a SavedModel or TFX model directory, or a model file, is used
    as it is. A directory holding exactly one model file (model.joblib, model.keras, ...) and
    no SavedModel is taken to mean that file, since a KFP component cannot give its artifact's
    path a suffix (and a modelcar image holds a directory, /models).
    """
    from assay.data import files

    if not files.is_dir(path) or files.exists(files.join(path, "saved_model.pb")) or \
            files.is_dir(files.join(path, "Format-Serving")):
        return path
    found = [f for f in files.list_dir(path)[0] if f.lower().endswith(_MODEL_SUFFIXES)]
    return found[0] if len(found) == 1 else path


def model_id(artifact: object) -> Optional[int]:
    """The ML Metadata id of an input artifact, where KFP gives it.

    KFP's driver names each input RuntimeArtifact by its MLMD artifact id (a decimal string);
    TFX's blessing records it as current_model_id / baseline_model_id. Other runners (kfp.local,
    hand-built inputs) name artifacts otherwise: then None.

    Example:
        >>> from types import SimpleNamespace
        >>> model_id(SimpleNamespace(name="1234")), model_id(SimpleNamespace(name="model"))
        (1234, None)
    """
    name = getattr(artifact, "name", "") or ""
    return int(name) if name.isascii() and name.isdigit() else None


__all__ = ["artifact_path", "local_path", "model_id", "model_path"]
