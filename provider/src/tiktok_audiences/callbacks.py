"""Task callbacks that keep the audiences table honest when a run fails."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def record_failure(context: dict[str, Any]) -> None:
    """Mark the audience Failed with the reason, and the run as failed (final failure only).

    Registered as ``on_failure_callback`` of the audience's tasks; it runs in the task's own process
    after the last retry, so what the user sees in the audiences table is why the run failed.
    """
    from tiktok_audiences.metadata import META_CONN_ID, open_store, utcnow
    from tiktok_audiences.sync.status import AudienceStatus

    task = context["task"]
    audience = getattr(task, "audience", None)
    if not audience:
        return
    error = context.get("exception")
    message = _one_line(str(error)) if error else f"task {task.task_id} failed"
    message = f"{task.task_id}: {message}"
    try:
        store = open_store(getattr(task, "meta_conn_id", META_CONN_ID))
        store.register_audience(audience, context["dag"].dag_id, initial_status=AudienceStatus.PENDING.value)
        store.update_audience(
            audience["key"],
            status=AudienceStatus.FAILED.value,
            status_message=message,
            last_error=message,
            last_run_at=utcnow(),
        )
        store.finish_run(
            audience["key"], context["run_id"], outcome="failed", message=message, error_kind=failure_kind(error, message)
        )
    except Exception:  # the callback must never hide the task's own error
        log.exception("Could not record the failure of audience %s in the metadata database", audience.get("key"))


def failure_kind(error: BaseException | None, message: str) -> str:
    """``auth`` when the integration must be re-authenticated (the alerts' auth_error event), else ``other``.

    The sync operator re-raises TikTok's auth errors as AirflowFailException (so Airflow does not
    retry them); the original stays reachable as the exception's context.
    """
    from tiktok_audiences.sync.alerts import ERROR_KIND_AUTH, error_kind
    from tiktok_audiences.tiktok.errors import TikTokAuthError

    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, TikTokAuthError):
            return ERROR_KIND_AUTH
        error, seen = error.__cause__ or error.__context__, seen + 1
    return error_kind(message)


def _one_line(text: str, limit: int = 2000) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
