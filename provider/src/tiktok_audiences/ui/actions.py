"""What the page's audience actions do, in the API server process (where Airflow's ORM is allowed)."""

from __future__ import annotations

import logging
from typing import Any

from tiktok_audiences.metadata import AudienceStore

log = logging.getLogger(__name__)


class ActionError(Exception):
    """An action that could not be done; the message is shown on the page."""


def trigger_sync(dag_id: str, *, full_resync: bool, username: str) -> str:
    """Create a manual run of the audience's DAG, as the UI's Trigger button does; returns its run_id.

    ``airflow.api.common.trigger_dag`` is what the public ``POST /api/v2/dags/{dag_id}/dagRuns``
    builds on in 3.3; calling it in-process avoids a second HTTP hop with the user's token.
    """
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.exceptions import AirflowException, DagNotFound, DagRunAlreadyExists
    from airflow.utils.types import DagRunTriggeredByType

    try:
        run = trigger_dag(
            dag_id,
            triggered_by=DagRunTriggeredByType.UI,
            triggering_user_name=username,
            conf={"full_resync": full_resync, "dry_run": False},
        )
    except DagNotFound:
        raise ActionError(f"DAG {dag_id} is not known to Airflow yet (is its file parsed?).") from None
    except DagRunAlreadyExists:
        raise ActionError(f"A run of {dag_id} was triggered at the same moment; try again.") from None
    except (AirflowException, ValueError) as err:
        raise ActionError(f"Airflow refused to trigger {dag_id}: {err}") from None
    if run is None:
        raise ActionError(f"Airflow did not create a run of {dag_id}.")
    log.info("Triggered %s (%s) for %s, full_resync=%s", dag_id, run.run_id, username, full_resync)
    return run.run_id


def pause_dag(dag_id: str) -> None:
    """Pause the DAG so it does not recreate the audience before its file is removed from git."""
    import sqlalchemy as sa
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        session.execute(sa.update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=True))


def delete_audience(store: AudienceStore, raw: dict[str, Any], *, delete_on_tiktok: bool) -> None:
    """Delete the audience on TikTok if asked, pause its DAG, forget our metadata rows.

    TikTok first: if TikTok refuses, nothing is forgotten here and the user can try again.
    """
    tiktok_id = raw.get("tiktok_audience_id")
    lookalike = store.get_lookalike(raw["audience_key"]) or {}
    # The audience's lookalike goes with it: its seed is gone and nothing would check it any more.
    ids = [i for i in (tiktok_id, lookalike.get("tiktok_audience_id")) if i]
    if delete_on_tiktok and tiktok_id:
        from tiktok_audiences.hooks.tiktok import TikTokHook
        from tiktok_audiences.tiktok.errors import TikTokApiError, TikTokIntegrationError

        try:
            hook = TikTokHook(raw["integration"], max_attempts=2)
            if raw.get("api") == "partner":
                # A Partner audience is deleted where it was created: /segment/audience/ (action delete).
                hook.delete_partner_audience(tiktok_id)
                ids_left = [i for i in ids if i != tiktok_id]
                if ids_left:
                    hook.delete_audiences(ids_left)
            else:
                hook.delete_audiences(ids)
        except (TikTokApiError, TikTokIntegrationError) as err:
            what = " and ".join(ids)
            raise ActionError(f"TikTok did not delete audience {what}: {err}. Nothing was changed.") from None
    pause_dag(raw["dag_id"])
    store.delete_audience(raw["audience_key"])
    try:
        from tiktok_audiences.members.identifier_cache import forget_audience

        forget_audience(raw["audience_key"])
    except Exception:  # only disk space is at stake; the deletion itself has happened
        log.warning("Could not remove the identifier cache of audience %s", raw["audience_key"], exc_info=True)
    log.info("Deleted audience %s (on TikTok: %s)", raw["audience_key"], bool(delete_on_tiktok and tiktok_id))
