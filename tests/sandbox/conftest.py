"""Fixtures of the sandbox tests: one sandbox server per module, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sandbox.test_sandbox_server import Api, Control
from tiktok_sandbox import SandboxServer


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_sandbox(server: SandboxServer) -> None:
    """Every test starts from a reset sandbox.

    The QPS limit is lifted so that quick test sequences are not throttled; the rate-limit test
    lowers it again explicitly.
    """
    control = Control(server.url)
    control.post("reset")
    control.configure(qps_limit=0)


@pytest.fixture
def api(server: SandboxServer) -> Api:
    return Api(server.url)


@pytest.fixture
def control(server: SandboxServer) -> Control:
    return Control(server.url)


@pytest.fixture
def members_change_freely(control: Control) -> None:
    """Turn off TikTok's two audience refusals of updates (busy while processing, too few matches).

    For tests of what APPEND / REMOVE / REPLACE do to members right after a create, with small
    audiences: the refusals themselves are tested in test_sandbox_refusals.py.
    """
    control.configure(busy_while_processing=False, refuse_updates_when_unmatched=False)
