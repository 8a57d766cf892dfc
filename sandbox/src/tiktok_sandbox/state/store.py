"""``SandboxState``: the parts of the sandbox's state put together by inheritance, behind one lock.

Each part is a mixin of :class:`~tiktok_sandbox.state.base.StateBase` with its own tables and
methods (no two define the same name): ``state.apply_mapping(...)`` is
:class:`~tiktok_sandbox.state.segments.PartnerAudiences`' own method. This class creates every
table, resets them, and changes the configuration (which may re-match every audience).
"""

from __future__ import annotations

import itertools
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable

from tiktok_sandbox.config import SandboxConfig
from tiktok_sandbox.contract import Violation
from tiktok_sandbox.population import Population
from tiktok_sandbox.state.audiences import AUDIENCE_ID_BASE, Audience
from tiktok_sandbox.state.customer_files import CustomerFileAudiences
from tiktok_sandbox.state.files import UploadedFile
from tiktok_sandbox.state.lookalikes import LookalikeAudiences
from tiktok_sandbox.state.oauth import AuthCode, OAuthTokens, TokenRecord
from tiktok_sandbox.state.segments import PartnerAudiences
from tiktok_sandbox.state.traffic import Fault, RequestLogEntry, RequestTraffic

#: Every live SandboxState, so the test suite can check each sandbox a test started for contract
#: violations (tests/conftest.py) without every fixture having to hand its state over.
LIVE_STATES: weakref.WeakSet[SandboxState] = weakref.WeakSet()


class SandboxState(CustomerFileAudiences, PartnerAudiences, LookalikeAudiences, OAuthTokens, RequestTraffic):
    """All mutable sandbox data behind one lock."""

    def __init__(self, config: SandboxConfig | None = None, clock: Callable[[], float] = time.time) -> None:
        self._initial_config = (config or SandboxConfig()).copy()
        self._initial_config.validate()
        self._clock = clock
        self._lock = threading.RLock()
        self._audience_ids = itertools.count(AUDIENCE_ID_BASE + 1)
        self._config = self._initial_config.copy()
        self._tokens: dict[str, TokenRecord] = {}
        self._auth_codes: dict[str, AuthCode] = {}
        self._files: dict[str, UploadedFile] = {}
        self._audiences: dict[str, Audience] = {}
        self._faults: list[Fault] = []
        self._request_log: deque[RequestLogEntry] = deque()
        self._request_times: dict[str, deque[float]] = {}
        self._population = Population()
        self._contract_violations: list[Violation] = []
        self._contract_violation_history: list[Violation] = []
        self.reset()
        LIVE_STATES.add(self)

    def reset(self) -> None:
        """Forget audiences, files, faults, the request log and OAuth state; restore tokens/config."""
        with self._lock:
            self._config = self._initial_config.copy()
            self._tokens = {
                self._config.access_token: TokenRecord(
                    token=self._config.access_token,
                    advertiser_ids=tuple(self._config.advertiser_ids),
                    scope=tuple(self._config.scope),
                )
            }
            self._auth_codes.clear()
            self._files.clear()
            self._audiences.clear()
            self._faults.clear()
            self._request_log = deque(maxlen=self._config.request_log_limit)
            self._request_times.clear()
            self._population.clear()
            self._contract_violations.clear()

    def update_config(self, updates: dict[str, object]) -> SandboxConfig:
        """Change run-time tunables; raises ValueError for unknown keys or bad values."""
        with self._lock:
            before = self._config
            self._config = before.with_updates(dict(updates))
            if self._config.phone_match_forms != before.phone_match_forms or (
                self._population.registered and self._config.match_rate != before.match_rate
            ):
                # Which hashes reach a user on TikTok changed, so every audience's matches change
                # with it. (Without a population a new match_rate applies to later changes only.)
                self._rematch_all()
            return self._config.copy()
