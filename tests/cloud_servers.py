"""Real object stores on localhost for tests: an S3 server (moto) and a GCS emulator.

    from cloud_servers import s3_server, gcs_server          # pytest fixtures (session-wide)

    def test_x(s3_server):
        bucket = s3_server.make_bucket()                      # a fresh, empty bucket
        s3_server.upload(local_dir, f"s3://{bucket}/data")    # through boto3, not through assay
        assay.evaluate(..., beam_pipeline_args=s3_server.beam_args)
        s3_server.keys(bucket)                                # every object name, sorted

Each fixture starts the server from this environment's bin directory (`moto_server`,
`gcp-storage-emulator`) on 127.0.0.1 and a free port, waits until it answers, and stops it at the
end of the session. A server that cannot start FAILS the test that asked for it, with the
server's log: these tests never skip.

S3 is reached through Beam's S3 options (`S3Server.beam_args`); GCS through the environment
variable STORAGE_EMULATOR_HOST, which the gcs_server fixture sets for the whole session (Beam's
gcsio then logs a credentials traceback and connects anonymously). Objects are put and listed
with boto3 and with the GCS JSON API over plain HTTP, independently of assay and Beam.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Dict, List, Optional

import pytest

BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
ACCESS_KEY = SECRET_KEY = "testing"
REGION = "us-east-1"
START_TIMEOUT_S = 60


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """A server process on 127.0.0.1: started, waited for, stopped (by its own pid)."""

    def __init__(self, name: str, command: List[str], probe: str,
                 env: Optional[Dict[str, str]] = None):
        self.name, self.command, self.probe = name, command, probe
        self._log = tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log", delete=False)
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT,
                                        env=env, start_new_session=True)
        self._wait()

    def log_tail(self, chars: int = 3000) -> str:
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")[-chars:]

    def _wait(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                pytest.fail(f"{self.name} exited with {self.process.returncode} at start "
                            f"({' '.join(self.command)}):\n{self.log_tail()}")
            try:
                urllib.request.urlopen(self.probe, timeout=2).read()
                return
            except urllib.error.HTTPError:
                return  # it answered
            except OSError:
                time.sleep(0.2)
        self.stop()
        pytest.fail(f"{self.name} did not answer {self.probe} within {START_TIMEOUT_S} s "
                    f"({' '.join(self.command)}):\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()
        os.unlink(self._log.name)


def _bucket_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class S3Server:
    """moto's S3 server. `beam_args` are the Beam pipeline options that point Beam at it."""

    scheme = "s3"

    def __init__(self):
        self.port = free_port()
        self.endpoint = f"http://{HOST}:{self.port}"
        env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                   AWS_DEFAULT_REGION=REGION)
        self.server = Server("moto_server", [str(BIN / "moto_server"), "-H", HOST, "-p",
                                             str(self.port)], self.endpoint + "/", env)
        self.beam_args = [f"--s3_endpoint_url={self.endpoint}", f"--s3_access_key_id={ACCESS_KEY}",
                          f"--s3_secret_access_key={SECRET_KEY}", f"--s3_region_name={REGION}"]
        self.env: Dict[str, str] = {}

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name=REGION)

    def make_bucket(self, prefix: str = "assay") -> str:
        """Creates a new empty bucket; returns its name."""
        name = _bucket_name(prefix)
        self.client().create_bucket(Bucket=name)
        return name

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.client().put_object(Bucket=bucket, Key=key, Body=data)

    def get(self, bucket: str, key: str) -> bytes:
        return self.client().get_object(Bucket=bucket, Key=key)["Body"].read()

    def keys(self, bucket: str, prefix: str = "") -> List[str]:
        """Every object name in the bucket under `prefix`, sorted."""
        names = []
        for page in self.client().get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix):
            names += [o["Key"] for o in page.get("Contents", [])]
        return sorted(names)

    def upload(self, local, url: str) -> str:
        return _upload(self, local, url)

    def stop(self) -> None:
        self.server.stop()


class GcsServer:
    """gcp-storage-emulator (in memory). `env` holds STORAGE_EMULATOR_HOST for its clients."""

    scheme = "gs"
    beam_args: List[str] = []

    def __init__(self):
        self.port = free_port()
        self.endpoint = f"http://{HOST}:{self.port}"
        self.server = Server("gcp-storage-emulator", [
            str(BIN / "gcp-storage-emulator"), "start", f"--host={HOST}", f"--port={self.port}",
            "--in-memory", "--default-bucket=assay-default"], self.endpoint + "/storage/v1/b")
        self.env = {"STORAGE_EMULATOR_HOST": self.endpoint}

    def _call(self, method: str, path: str, data: Optional[bytes] = None,
              content_type: str = "application/json") -> bytes:
        request = urllib.request.Request(self.endpoint + path, data=data, method=method,
                                         headers={"Content-Type": content_type})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    def make_bucket(self, prefix: str = "assay") -> str:
        name = _bucket_name(prefix)
        self._call("POST", "/storage/v1/b?project=test", json.dumps({"name": name}).encode())
        return name

    def put(self, bucket: str, key: str, data: bytes) -> None:
        query = urllib.parse.urlencode({"uploadType": "media", "name": key})
        self._call("POST", f"/upload/storage/v1/b/{bucket}/o?{query}", data,
                   "application/octet-stream")

    def get(self, bucket: str, key: str) -> bytes:
        return self._call("GET", f"/storage/v1/b/{bucket}/o/{urllib.parse.quote(key, safe='')}"
                                 "?alt=media")

    def keys(self, bucket: str, prefix: str = "") -> List[str]:
        names, token = [], None
        while True:
            query = {"prefix": prefix, **({"pageToken": token} if token else {})}
            page = json.loads(self._call(
                "GET", f"/storage/v1/b/{bucket}/o?{urllib.parse.urlencode(query)}"))
            names += [o["name"] for o in page.get("items", [])]
            token = page.get("nextPageToken")
            if not token:
                return sorted(names)

    def upload(self, local, url: str) -> str:
        return _upload(self, local, url)

    def stop(self) -> None:
        self.server.stop()


def split_url(url: str):
    """("bucket", "key/prefix") of "s3://bucket/key/prefix"."""
    rest = url.split("://", 1)[1]
    bucket, _, key = rest.partition("/")
    return bucket, key


def _upload(server, local, url: str) -> str:
    """Puts a local file, or every file under a local directory, at `url`; returns `url`."""
    local = Path(local)
    bucket, key = split_url(url)
    if local.is_file():
        server.put(bucket, key, local.read_bytes())
        return url
    for path in sorted(local.rglob("*")):
        if path.is_file():
            server.put(bucket, f"{key.rstrip('/')}/{path.relative_to(local).as_posix()}",
                       path.read_bytes())
    return url


@pytest.fixture(scope="session")
def s3_server():
    server = S3Server()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gcs_server():
    server = GcsServer()
    old = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ.update(server.env)
    yield server
    if old is None:
        os.environ.pop("STORAGE_EMULATOR_HOST", None)
    else:
        os.environ["STORAGE_EMULATOR_HOST"] = old
    server.stop()


@pytest.fixture(params=["s3", "gs"])
def cloud_store(request):
    """The S3 server, then the GCS emulator: one test body for both."""
    return request.getfixturevalue("s3_server" if request.param == "s3" else "gcs_server")
