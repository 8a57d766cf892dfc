"""Local stand-in for TikTok's Marketing API, used by the demo and the tests.

Start it in-process with :class:`~tiktok_sandbox.server.SandboxServer`, or from a shell with
``tiktok-sandbox``. See ``docs/sandbox.md``.
"""

from __future__ import annotations

from tiktok_sandbox.app import create_app
from tiktok_sandbox.config import SandboxConfig
from tiktok_sandbox.server import SandboxServer
from tiktok_sandbox.state import SandboxState

__all__ = ["SandboxConfig", "SandboxServer", "SandboxState", "create_app"]
