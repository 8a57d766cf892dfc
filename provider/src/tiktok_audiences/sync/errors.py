"""How the engine ends a run that cannot finish: retry later, or stop for good.

The engine knows nothing of Airflow; the operators map :class:`SyncRetry` to ``AirflowException``
(Airflow's task retries try again) and :class:`SyncFailed` to ``AirflowFailException`` (no retry:
TikTok or the data would answer the same way again). Other exceptions (a transient TikTok error, a
dropped connection) propagate unchanged and are retried like any task error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tiktok_audiences.tiktok.errors import TikTokRetryableError


class SyncError(Exception):
    """A run of the engine ended early; the message says why and what happens next."""


class SyncRetry(SyncError):
    """Try the run again later: another run holds the audience, or a create may have happened."""


class SyncFailed(SyncError):
    """Retrying cannot help; the message names the cause and the fix."""


@contextmanager
def reconciled_on_retry(what: str) -> Iterator[None]:
    """Around a create whose answer may be lost: a retryable error means "maybe created".

    The next attempt looks for what this one may have made (by name, kind and time) before creating
    anything, so a retry never creates a second one.
    """
    try:
        yield
    except TikTokRetryableError as err:
        raise SyncRetry(f"Creating {what} did not complete ({err}); the retry reconciles") from err
