"""When a request to TikTok is sent again: the tenacity policy, the busy-audience wait, the pacing.

- :func:`retry_args`: tenacity's arguments for a request (HttpHook's ``run_with_advanced_retry``
  takes them): transient errors only (:func:`~tiktok_audiences.tiktok.errors.is_transient`), with
  exponential backoff and full jitter.
- :func:`wait_out_busy`: TikTok refuses an update while the audience "is currently being updated or
  under processing"; that refusal has its own, longer and bounded, wait.
- :class:`Pacer`: at most ``max_qps`` requests per second (TikTok throttles per app, 40100).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import tenacity

from tiktok_audiences.tiktok.errors import TikTokApiError, TikTokAudienceBusy, is_busy_refusal, is_transient

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Longest pause between two attempts while waiting out a busy audience.
BUSY_POLL_MAX_SECONDS = 30.0


def retry_args(*, max_attempts: int, backoff_seconds: float, backoff_max_seconds: float) -> dict[str, Any]:
    """tenacity's ``Retrying`` arguments: transient errors, ``max_attempts`` in all, full-jitter backoff."""
    return {
        "stop": tenacity.stop_after_attempt(max_attempts),
        "wait": tenacity.wait_random_exponential(multiplier=backoff_seconds, max=backoff_max_seconds),
        "retry": tenacity.retry_if_exception(is_retried),
        "before_sleep": _log_retry,
        "reraise": True,
    }


def is_retried(error: BaseException) -> bool:
    """Transient, except a busy audience: :func:`wait_out_busy` waits that out with its own, longer budget."""
    return is_transient(error) and not is_busy_refusal(error)


def _log_retry(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0
    log.warning(
        "TikTok request failed (attempt %d): %s; retrying in %.1f s",
        state.attempt_number,
        error if isinstance(error, TikTokApiError) else type(error).__name__,
        wait,
    )


def wait_out_busy(send: Callable[[], T], *, budget: float, first_pause: float) -> T:
    """Send, and while TikTok answers "busy", send again after a growing pause, for at most ``budget`` seconds.

    Past the budget the last :class:`TikTokAudienceBusy` is raised, with ``waited_seconds`` set.
    """
    pause = first_pause
    waited = 0.0
    while True:
        try:
            return send()
        except TikTokAudienceBusy as err:
            if waited + pause > budget:
                err.waited_seconds = waited
                raise
            log.warning("TikTok is still processing the audience (%s); trying again in %.1f s", err, pause)
            time.sleep(pause)
            waited += pause
            pause = min(pause * 2, BUSY_POLL_MAX_SECONDS)


class Pacer:
    """Keeps one sender under ``max_qps`` requests per second (0 or less: no pacing)."""

    def __init__(self) -> None:
        self._last_request_at = 0.0

    def pace(self, max_qps: float) -> None:
        """Wait until the next request may go, then note that it goes now."""
        if max_qps <= 0:
            return
        wait = self._last_request_at + 1.0 / max_qps - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_request_at = time.monotonic()
