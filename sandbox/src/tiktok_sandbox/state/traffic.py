"""What the sandbox does to and remembers of requests: faults, the QPS limit, the log, contract violations.

None of it is TikTok data: faults script failures of a route (the control API's ``/_sandbox/faults``),
the per-token QPS budget stands in for TikTok's rate limit (40100), the request log keeps each
call's shape (never its body), and contract violations are calls that broke TikTok's API contract
(``tiktok_sandbox/contract/tiktok_api.json``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace

from tiktok_sandbox.contract import Violation
from tiktok_sandbox.state.base import StateBase


@dataclass
class Fault:
    """A scripted failure for the next ``times`` requests to a TikTok route."""

    path: str
    code: int | None = None
    http_status: int | None = None
    latency_seconds: float = 0.0
    malformed_json: bool = False
    times: int = 1
    after_processing: bool = False
    message: str | None = None

    @property
    def changes_response(self) -> bool:
        """False for a pure latency fault, which delays but then answers normally."""
        return self.code is not None or self.http_status is not None or self.malformed_json


@dataclass(frozen=True)
class RequestLogEntry:
    """What the sandbox remembers about a request: never its body."""

    method: str
    path: str
    status: int
    code: int | None
    request_bytes: int
    response_bytes: int
    at: float


def normalize_route(path: str) -> str:
    """Return a TikTok endpoint path without surrounding slashes (fault and route matching)."""
    return path.strip("/")


class RequestTraffic(StateBase):
    """Faults, the per-token request budget, the request log and contract violations."""

    _faults: list[Fault]
    _request_log: deque[RequestLogEntry]
    _request_times: dict[str, deque[float]]
    _contract_violations: list[Violation]
    #: Never cleared, not even by reset: the suite's checker counts what a test added.
    _contract_violation_history: list[Violation]

    # ----------------------------------------------------------------- faults

    def add_fault(self, fault: Fault) -> None:
        """Queue a fault; faults for a route are consumed in the order they were added."""
        with self._lock:
            self._faults.append(replace(fault, path=normalize_route(fault.path) or "*"))

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()

    def faults(self) -> list[Fault]:
        """Copies of the queued faults."""
        with self._lock:
            return [replace(f) for f in self._faults]

    def take_fault(self, route: str) -> Fault | None:
        """Consume one use of the first queued fault matching ``route`` (or ``*``)."""
        route = normalize_route(route)
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.path in ("*", route):
                    fault.times -= 1
                    if fault.times <= 0:
                        del self._faults[index]
                    return replace(fault)
            return None

    # ----------------------------------------------------------------- rate limit

    def admit_request(self, token: str) -> bool:
        """Count a request against the token's per-second budget; False when over the limit.

        Only admitted requests are counted, so a client that backs off for a second recovers.
        """
        with self._lock:
            limit = self._config.qps_limit
            if limit <= 0:
                return True
            now = self.now()
            window = self._request_times.setdefault(token, deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= limit:
                return False
            window.append(now)
            return True

    # ----------------------------------------------------------------- request log

    def log_request(self, entry: RequestLogEntry) -> None:
        """Remember a request's shape (never its body)."""
        with self._lock:
            self._request_log.append(entry)

    def request_log(self) -> list[RequestLogEntry]:
        """The remembered requests, oldest first."""
        with self._lock:
            return list(self._request_log)

    def clear_request_log(self) -> None:
        """Forget the remembered requests."""
        with self._lock:
            self._request_log.clear()

    # ----------------------------------------------------------------- contract violations

    def record_contract_violations(self, violations: Sequence[Violation]) -> None:
        """Keep calls that broke TikTok's contract (field paths and problems only, no values)."""
        if not violations:
            return
        with self._lock:
            self._contract_violations.extend(violations)
            self._contract_violation_history.extend(violations)

    def contract_violations(self) -> list[Violation]:
        """Contract violations since the last reset."""
        with self._lock:
            return list(self._contract_violations)

    def contract_violation_history(self) -> list[Violation]:
        """Every contract violation since this state was made (reset does not clear it)."""
        with self._lock:
            return list(self._contract_violation_history)
