"""Shared test set-up.

Every test runs with AWS_* variables cleared and dummy credentials, so a
developer's own AWS configuration can never change a result or reach real AWS.
Service fixtures live in their own modules, registered below.
"""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["dynamodb_fixtures"]


@pytest.fixture(autouse=True)
def _isolated_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


def pytest_sessionstart(session: pytest.Session) -> None:
    """A run meant for the compiled build (tests/test_compiled.py) fails if it got the pure one."""
    if os.environ.get("CRYPTOALERTS_EXPECT_COMPILED") == "1":
        import cryptoalerts

        if not cryptoalerts.COMPILED:
            raise pytest.UsageError(f"CRYPTOALERTS_EXPECT_COMPILED=1 but {cryptoalerts.index.__file__} is not compiled")
