"""How the operators turn the engine's endings into Airflow's: retry, or fail without retrying."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airflow.sdk.exceptions import AirflowException, AirflowFailException

from tiktok_audiences.sync.errors import SyncFailed, SyncRetry


@contextmanager
def airflow_errors() -> Iterator[None]:
    """:class:`SyncFailed` → ``AirflowFailException`` (no retry); :class:`SyncRetry` → ``AirflowException``.

    The engine's exception stays the new one's context, so callbacks can still find TikTok's error
    behind it (e.g. an auth error, which asks for re-authentication).
    """
    try:
        yield
    except SyncFailed as err:
        raise AirflowFailException(str(err)) from None
    except SyncRetry as err:
        raise AirflowException(str(err)) from err
