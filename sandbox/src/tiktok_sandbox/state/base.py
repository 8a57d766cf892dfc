"""The core every part of :class:`~tiktok_sandbox.state.SandboxState` builds on: lock, clock, config.

One re-entrant lock guards everything. The HTTP layer calls in from uvicorn's worker threads and
tests call in from their own thread (``SandboxServer.state``), so every public method of every
part takes ``self._lock``. The parts (one module per subject) are mixins of this class, put
together in :mod:`tiktok_sandbox.state.store`; each declares the tables it owns as annotations,
and ``SandboxState.__init__`` / ``reset`` fill them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from tiktok_sandbox.config import SandboxConfig


class StateBase:
    """The lock, the injectable clock and the configuration in force."""

    _initial_config: SandboxConfig
    _config: SandboxConfig
    _clock: Callable[[], float]
    _lock: threading.RLock

    def now(self) -> float:
        """Current time in seconds since the epoch (injectable for tests)."""
        return self._clock()

    @property
    def config(self) -> SandboxConfig:
        """A copy of the configuration in force."""
        with self._lock:
            return self._config.copy()

