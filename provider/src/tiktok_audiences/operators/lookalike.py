"""Operator that keeps an audience's TikTok lookalike audience in line with its ``lookalike:`` block."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from tiktok_audiences.metadata import META_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Context

    from tiktok_audiences.definitions import LookalikeDefinition
    from tiktok_audiences.hooks.tiktok import TikTokHook
    from tiktok_audiences.metadata import AudienceStore


class _Waiting(Exception):
    """The source audience cannot seed a lookalike yet; the message says why."""


class TikTokLookalikeSyncOperator(BaseOperator):
    """
    Create the audience's lookalike once its source audience is usable on TikTok, and keep it current.

    * source not created or not processed by TikTok yet: status *Waiting for Source*, nothing sent;
    * no lookalike yet: create it (``/dmp/custom_audience/lookalike/create/``) and record its id and spec;
    * the ``lookalike:`` block changed, the source was recreated, or the integration moved to another
      ad account: TikTok cannot change a lookalike's settings, so a new lookalike is created; the
      previous one is left on TikTok (ad groups may target it) and the status message names it;
    * otherwise: read its state back (``is_valid``, ``cover_num``), and rebuild it from the source
      (``/dmp/custom_audience/lookalike/update/``) when the source's members changed, at most daily.

    Records everything in the ``tiktok_lookalikes`` table, never in the audience's own row, so a
    failing lookalike never hides how the audience's sync went. Returns a small summary.

    :param audience: the audience definition (``AudienceDefinition.as_dict()``, with ``lookalike``)
    :param dry_run: report what would be done, send nothing (templated)
    :param meta_conn_id: connection of the metadata database
    :param lock_timeout: how long to wait for another run of the same audience
    :param lock_lease: how long the audience's lock stays valid
    """

    template_fields: Sequence[str] = ("dry_run",)
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        audience: dict[str, Any],
        dry_run: Any = False,
        meta_conn_id: str = META_CONN_ID,
        lock_timeout: timedelta = timedelta(minutes=30),
        lock_lease: timedelta = timedelta(minutes=10),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("on_failure_callback", record_lookalike_failure)
        super().__init__(**kwargs)
        self.audience = audience
        self.dry_run = dry_run
        self.meta_conn_id = meta_conn_id
        self.lock_timeout = lock_timeout
        self.lock_lease = lock_lease

    def execute(self, context: Context) -> dict[str, Any]:
        from tiktok_audiences.definitions import LookalikeDefinition
        from tiktok_audiences.metadata import LockHolder, open_store
        from tiktok_audiences.sync.lookalike import LookalikeStatus

        definition = LookalikeDefinition.from_dict(self.audience["lookalike"])
        store = open_store(self.meta_conn_id)
        key = self.audience["key"]
        store.register_lookalike(key, definition.name, initial_status=LookalikeStatus.WAITING.value)
        # The audience's own lock: no sync of its source (a backfill, say) changes it underneath.
        holder = LockHolder.for_run(context["run_id"])
        self._acquire(store, holder)
        try:
            return self._sync(store, definition)
        finally:
            store.release_lock(key, holder)

    def _acquire(self, store: AudienceStore, holder) -> None:
        current = store.wait_for_lock(
            self.audience["key"], holder, lease_seconds=self.lock_lease.total_seconds(),
            timeout_seconds=self.lock_timeout.total_seconds(),
        )
        if current is not None:
            raise AirflowException(
                f"Audience '{self.audience['name']}' is being synced by run {current.holder}; gave up waiting "
                f"after {self.lock_timeout}. This run will retry."
            )

    # -- the lookalike ------------------------------------------------------------------------

    def _sync(self, store: AudienceStore, definition: LookalikeDefinition) -> dict[str, Any]:
        from tiktok_audiences.hooks.tiktok import TikTokHook
        from tiktok_audiences.sync.lookalike import LookalikeStatus
        from tiktok_audiences.tiktok.errors import (
            TikTokApiError,
            TikTokAudienceNotFound,
            TikTokIntegrationError,
            is_permanent_tiktok_error,
        )

        key = self.audience["key"]
        hook = TikTokHook(tiktok_conn_id=self.audience["integration"])
        try:
            hook.integration  # noqa: B018 - a missing or incomplete integration fails here, clearly
        except TikTokIntegrationError as err:
            raise AirflowFailException(str(err)) from None
        try:
            try:
                source_id = self._usable_source(store, hook)
            except _Waiting as waiting:
                return self._record_waiting(store, definition, str(waiting))
            return self._converge(store, hook, definition, source_id)
        except TikTokApiError as err:
            if not is_permanent_tiktok_error(err) or isinstance(err, TikTokAudienceNotFound):
                raise  # transient, or gone on TikTok mid-run (the next attempt's lookup handles it): retried
            # An auth error, a bad parameter or a refused spec: TikTok answers a retry the same way.
            store.update_lookalike(key, status=LookalikeStatus.FAILED.value, status_message=str(err),
                                   last_run_at=_now())
            raise AirflowFailException(str(err)) from None

    def _usable_source(self, store: AudienceStore, hook: TikTokHook) -> str:
        """The source audience's TikTok id, if TikTok can build a lookalike from it now."""
        from tiktok_audiences.tiktok.errors import TikTokAudienceNotFound

        source = store.get_audience(self.audience["key"]) or {}
        source_id = source.get("tiktok_audience_id")
        if not source_id:
            raise _Waiting(
                f"the source audience '{self.audience['name']}' is not on TikTok yet (status "
                f"{source.get('status') or 'Pending'}); the lookalike is created after TikTok has processed it"
            )
        if source.get("advertiser_id") and str(source["advertiser_id"]) != hook.advertiser_id:
            raise _Waiting(f"the source audience is not yet on advertiser {hook.advertiser_id} (its next sync creates it)")
        try:
            details = hook.get_audience(source_id)
        except TikTokAudienceNotFound:
            raise _Waiting(
                f"the source audience {source_id} no longer exists on TikTok; its next sync recreates it"
            ) from None
        if not details.get("is_valid"):
            raise _Waiting(
                f"TikTok has not processed the source audience {source_id} yet (it can take up to 48 hours); "
                f"the lookalike is created by the first run after that"
            )
        return str(source_id)

    def _record_waiting(self, store: AudienceStore, definition: LookalikeDefinition, why: str) -> dict[str, Any]:
        from tiktok_audiences.sync.lookalike import LookalikeStatus

        key = self.audience["key"]
        row = store.get_lookalike(key) or {}
        # A lookalike that exists keeps its own status; the note says the source is not usable now.
        status = row.get("status") if row.get("tiktok_audience_id") else LookalikeStatus.WAITING.value
        if status == LookalikeStatus.FAILED.value:
            status = LookalikeStatus.WAITING.value
        store.update_lookalike(key, status=status, status_message=f"Waiting for the source: {why}", last_run_at=_now())
        self.log.info("Lookalike '%s': waiting for the source audience: %s", definition.name, why)
        return self._summary(definition, "waiting", status, row.get("tiktok_audience_id"))

    def _converge(self, store: AudienceStore, hook: TikTokHook, definition: LookalikeDefinition,
                  source_id: str) -> dict[str, Any]:
        from tiktok_audiences.sync.lookalike import plan_lookalike
        from tiktok_audiences.tiktok.errors import TikTokAudienceNotFound

        key = self.audience["key"]
        row = store.get_lookalike(key) or {}
        notes: list[str] = []
        details: dict[str, Any] | None = None
        if row.get("tiktok_audience_id"):
            try:
                details = hook.get_audience(row["tiktok_audience_id"])
            except TikTokAudienceNotFound:
                notes.append(f"lookalike {row['tiktok_audience_id']} no longer exists on TikTok (deleted there); "
                             f"it is created again")
                store.update_lookalike(key, tiktok_audience_id=None, is_valid=None, cover_num=None)
                row = store.get_lookalike(key) or {}
        if not row.get("tiktok_audience_id") and row.get("create_started_at"):
            adopted = self._adopt_interrupted_create(store, hook, definition, row, source_id)
            if adopted:
                notes.append(f"adopted lookalike {adopted} created by an interrupted run")
                row = store.get_lookalike(key) or {}
        plan = plan_lookalike(row, spec=definition.spec(), source_audience_id=source_id, advertiser_id=hook.advertiser_id)
        if _as_bool(self.dry_run):
            what = {"create": "create the lookalike", "rebuild": f"create a new lookalike ({plan.reason})",
                    "check": "check the lookalike"}[plan.action]
            store.update_lookalike(key, status_message=f"Dry run: would {what}; nothing sent", last_run_at=_now())
            return self._summary(definition, f"dry_run:{plan.action}", row.get("status"), row.get("tiktok_audience_id"))
        if plan.action == "check":
            details = details or hook.get_audience(row["tiktok_audience_id"])
            self._rename_if_needed(hook, definition, row["tiktok_audience_id"], details, notes)
            details = self._maybe_refresh(store, hook, row, details, notes)
            return self._record_state(store, definition, "checked", row["tiktok_audience_id"], details, notes)
        previous = row.get("tiktok_audience_id")
        lookalike_id = self._create(store, hook, definition, source_id)
        if plan.action == "rebuild":
            notes.append(
                f"{plan.reason}; TikTok cannot change a lookalike's settings, so lookalike {lookalike_id} was created. "
                f"The previous one, {previous}, was left on TikTok for the ad groups that target it: delete it in "
                f"TikTok Ads Manager once they use the new one"
            )
        return self._record_state(store, definition, "created" if plan.action == "create" else "rebuilt",
                                  lookalike_id, hook.get_audience(lookalike_id), notes)

    def _create(self, store: AudienceStore, hook: TikTokHook, definition: LookalikeDefinition, source_id: str) -> str:
        from tiktok_audiences.tiktok.errors import TikTokRetryableError

        key = self.audience["key"]
        store.update_lookalike(key, create_started_at=_now())
        try:
            lookalike_id = hook.create_lookalike(definition.name, lookalike_spec=definition.tiktok_spec(source_id))
        except TikTokRetryableError as err:
            # It may or may not have happened; the retry adopts it by name if it did.
            raise AirflowException(f"Creating the lookalike did not complete ({err}); the retry reconciles") from err
        self._record_created(store, definition, lookalike_id, source_id, hook.advertiser_id)
        self.log.info("Created lookalike %s of audience %s", lookalike_id, source_id)
        return lookalike_id

    def _record_created(self, store: AudienceStore, definition: LookalikeDefinition, lookalike_id: str,
                        source_id: str, advertiser_id: str) -> None:
        store.update_lookalike(
            self.audience["key"], tiktok_audience_id=lookalike_id, create_started_at=None, advertiser_id=advertiser_id,
            source_audience_id=source_id, spec=definition.spec(), spec_hash=definition.spec_hash(), built_at=_now(),
            is_valid=False, cover_num=None,
        )

    def _adopt_interrupted_create(self, store: AudienceStore, hook: TikTokHook, definition: LookalikeDefinition,
                                  row: dict[str, Any], source_id: str) -> str | None:
        """A create whose answer never arrived may still have happened: find it by name and time."""
        from tiktok_audiences.sync.lookalike import find_interrupted_create

        found = find_interrupted_create(list(hook.list_audiences()), name=definition.name,
                                        started_at=row["create_started_at"])
        if found:
            # It was made from this run's definition and source: record them, so it is not rebuilt.
            self._record_created(store, definition, found, source_id, hook.advertiser_id)
        else:
            store.update_lookalike(self.audience["key"], create_started_at=None)
        return found

    def _rename_if_needed(self, hook: TikTokHook, definition: LookalikeDefinition, lookalike_id: str,
                          details: dict[str, Any], notes: list[str]) -> None:
        """A new ``name`` alone does not need a new lookalike: rename it on TikTok."""
        from tiktok_audiences.tiktok.errors import TikTokApiError, TikTokAuthError

        if not details.get("name") or details["name"] == definition.name:
            return
        try:
            hook.rename_audience(lookalike_id, definition.name)
        except TikTokAuthError:
            raise
        except TikTokApiError as err:
            notes.append(f"TikTok did not rename the lookalike to '{definition.name}' ({err}); the next run tries again")
            return
        notes.append(f"renamed on TikTok from '{details['name']}'")

    def _maybe_refresh(self, store: AudienceStore, hook: TikTokHook, row: dict[str, Any], details: dict[str, Any],
                       notes: list[str]) -> dict[str, Any]:
        """Rebuild the lookalike from its source when the source's members changed (at most daily)."""
        from tiktok_audiences.sync.lookalike import needs_refresh
        from tiktok_audiences.tiktok.errors import TikTokApiError, TikTokAuthError

        changed_at = _last_membership_change(store, self.audience["key"])
        if not needs_refresh(built_at=row.get("built_at"), source_changed_at=changed_at, now=_now()):
            return details
        try:
            hook.refresh_lookalikes([row["tiktok_audience_id"]])
        except TikTokAuthError:
            raise
        except TikTokApiError as err:
            notes.append(f"TikTok did not refresh the lookalike from the changed source ({err}); the next run tries again")
            return details
        store.update_lookalike(self.audience["key"], built_at=_now())
        notes.append("refreshed from the source audience's changed members")
        return hook.get_audience(row["tiktok_audience_id"])

    def _record_state(self, store: AudienceStore, definition: LookalikeDefinition, action: str, lookalike_id: str,
                      details: dict[str, Any], notes: list[str]) -> dict[str, Any]:
        from tiktok_audiences.sync.lookalike import status_for

        is_valid = bool(details.get("is_valid"))
        cover_num = int(details.get("cover_num") or 0) if is_valid else None
        status = status_for(is_valid).value
        store.update_lookalike(self.audience["key"], name=definition.name, status=status,
                               status_message="; ".join(notes) or None, is_valid=is_valid, cover_num=cover_num,
                               last_run_at=_now())
        self.log.info("Lookalike '%s' (%s): %s, %s", definition.name, lookalike_id, action, status)
        return {**self._summary(definition, action, status, lookalike_id), "cover_num": cover_num}

    def _summary(self, definition: LookalikeDefinition, action: str, status: str | None,
                 lookalike_id: str | None) -> dict[str, Any]:
        return {"audience": self.audience["key"], "lookalike": definition.name, "action": action, "status": status,
                "tiktok_audience_id": lookalike_id}


def _last_membership_change(store: AudienceStore, key: str):
    """End of the last run that changed the source audience's members on TikTok, or None."""
    for run in store.run_history(key, limit=50):
        if run.get("outcome") == "success" and ((run.get("added") or 0) + (run.get("removed") or 0)) > 0:
            return run.get("finished_at")
    return None


def record_lookalike_failure(context: dict[str, Any]) -> None:
    """``on_failure_callback`` of the lookalike task: mark the *lookalike* Failed (never the audience)."""
    import logging

    from tiktok_audiences.callbacks import _one_line
    from tiktok_audiences.metadata import open_store
    from tiktok_audiences.sync.lookalike import LookalikeStatus

    task = context["task"]
    audience = getattr(task, "audience", None) or {}
    if not audience.get("lookalike"):
        return
    error = context.get("exception")
    message = f"{task.task_id}: {_one_line(str(error)) if error else 'failed'}"
    try:
        store = open_store(getattr(task, "meta_conn_id", META_CONN_ID))
        store.register_lookalike(audience["key"], audience["lookalike"]["name"],
                                 initial_status=LookalikeStatus.FAILED.value)
        store.update_lookalike(audience["key"], status=LookalikeStatus.FAILED.value, status_message=message,
                               last_run_at=_now())
    except Exception:  # the callback must never hide the task's own error
        logging.getLogger(__name__).exception("Could not record the failure of the lookalike of %s", audience.get("key"))


def _now():
    from tiktok_audiences.metadata import utcnow

    return utcnow()


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)

