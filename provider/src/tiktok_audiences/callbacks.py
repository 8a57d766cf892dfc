"""Task callbacks that keep the audiences table honest when a run fails.

They run in the task's own process after the last retry (``on_failure_callback``), so what the user
sees on the page is why the run failed. They never raise: a callback must not hide the task's error.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def record_failure(context: dict[str, Any]) -> None:
    """Mark the audience Failed with the reason, and the run as failed (final failure only).

    Registered for every task of an audience's DAG; tasks that are no
    :class:`~tiktok_audiences.operators.base.AudienceOperator` (the staging cleanup) record nothing.
    """
    from tiktok_audiences.metadata import open_store, utcnow
    from tiktok_audiences.operators.base import AudienceOperator
    from tiktok_audiences.sync.status import AudienceStatus

    task = context["task"]
    if not isinstance(task, AudienceOperator):
        return
    audience = task.audience
    error = context.get("exception")
    message = f"{task.task_id}: {one_line(str(error)) if error else f'task {task.task_id} failed'}"
    try:
        store = open_store(task.meta_conn_id)
        store.register_audience(audience.as_dict(), context["dag"].dag_id, initial_status=AudienceStatus.PENDING.value)
        store.update_audience(audience.key, status=AudienceStatus.FAILED.value, status_message=message,
                              last_error=message, last_run_at=utcnow())
        store.finish_run(audience.key, context["run_id"], outcome="failed", message=message,
                         error_kind=failure_kind(error, message))
    except Exception:  # the callback must never hide the task's own error
        log.exception("Could not record the failure of audience %s in the metadata database", audience.key)


def record_lookalike_failure(context: dict[str, Any]) -> None:
    """``on_failure_callback`` of the lookalike task: mark the *lookalike* Failed (never the audience)."""
    from tiktok_audiences.metadata import open_store, utcnow
    from tiktok_audiences.operators.base import AudienceOperator
    from tiktok_audiences.sync.lookalike import LookalikeStatus

    task = context["task"]
    if not isinstance(task, AudienceOperator) or task.audience.lookalike is None:
        return
    audience, lookalike = task.audience, task.audience.lookalike
    error = context.get("exception")
    message = f"{task.task_id}: {one_line(str(error)) if error else 'failed'}"
    try:
        store = open_store(task.meta_conn_id)
        store.register_lookalike(audience.key, lookalike.name, initial_status=LookalikeStatus.FAILED.value)
        store.update_lookalike(audience.key, status=LookalikeStatus.FAILED.value, status_message=message,
                               last_run_at=utcnow())
    except Exception:  # the callback must never hide the task's own error
        log.exception("Could not record the failure of the lookalike of %s", audience.key)


def failure_kind(error: BaseException | None, message: str) -> str:
    """``auth`` when the integration must be re-authenticated (the alerts' auth_error event), else ``other``.

    The operators re-raise TikTok's auth errors as AirflowFailException (so Airflow does not retry
    them); the original stays reachable as the exception's context.
    """
    from tiktok_audiences.sync.alerts import ERROR_KIND_AUTH, error_kind
    from tiktok_audiences.tiktok.errors import TikTokAuthError

    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, TikTokAuthError):
            return ERROR_KIND_AUTH
        error, seen = error.__cause__ or error.__context__, seen + 1
    return error_kind(message)


def one_line(text: str, limit: int = 2000) -> str:
    """An error as one line of at most ``limit`` characters (for the page's status message)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
