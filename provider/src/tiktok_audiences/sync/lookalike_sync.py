"""The lookalike sync: create an audience's lookalike once its source is usable on TikTok, and keep it current.

* source not created or not processed by TikTok yet: status *Waiting for Source*, nothing sent;
* no lookalike yet: create it (``/dmp/custom_audience/lookalike/create/``) and record its id and spec;
* the ``lookalike:`` block changed, the source was recreated, or the integration moved to another
  ad account: TikTok cannot change a lookalike's settings, so a new lookalike is created; the
  previous one is left on TikTok (ad groups may target it) and the status message names it;
* otherwise: read its state back (``is_valid``, ``cover_num``), and rebuild it from the source
  (``/dmp/custom_audience/lookalike/update/``) when the source's members changed, at most daily.

Everything is recorded in the ``tiktok_lookalikes`` table, never in the audience's own row, so a
failing lookalike never hides how the audience's sync went. The rules are in
:mod:`~tiktok_audiences.sync.lookalike`; this module runs them against TikTok and the store.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from tiktok_audiences.definitions import AudienceDefinition, LookalikeDefinition
from tiktok_audiences.metadata import AudienceStore, utcnow
from tiktok_audiences.sync.client import TikTokClient
from tiktok_audiences.sync.errors import SyncFailed, reconciled_on_retry
from tiktok_audiences.sync.lookalike import (
    LookalikeStatus,
    find_interrupted_create,
    needs_refresh,
    plan_lookalike,
    status_for,
)
from tiktok_audiences.tiktok.errors import (
    TikTokApiError,
    TikTokAudienceNotFound,
    TikTokAuthError,
    TikTokIntegrationError,
    is_permanent_tiktok_error,
)


class _Waiting(Exception):
    """The source audience cannot seed a lookalike yet; the message says why."""


class LookalikeSync:
    """One run of an audience's lookalike (the audience's ``lookalike:`` block)."""

    def __init__(self, definition: AudienceDefinition, *, dry_run: bool, client: TikTokClient, store: AudienceStore,
                 log: logging.Logger) -> None:
        assert definition.lookalike is not None, "only audiences with a lookalike: block have a lookalike sync"
        self.audience = definition
        self.lookalike: LookalikeDefinition = definition.lookalike
        self.key = definition.key
        self.dry_run = dry_run
        self.client = client
        self.store = store
        self.log = log

    def run(self) -> dict[str, Any]:
        """Converge the lookalike; returns a small summary.

        :raises SyncFailed: TikTok refused for good (auth, a bad parameter, a refused spec)
        """
        try:
            self.client.integration  # noqa: B018 - a missing or incomplete integration fails here, clearly
        except TikTokIntegrationError as err:
            raise SyncFailed(str(err)) from None
        try:
            try:
                source_id = self._usable_source()
            except _Waiting as waiting:
                return self._record_waiting(str(waiting))
            return self._converge(source_id)
        except TikTokApiError as err:
            if not is_permanent_tiktok_error(err) or isinstance(err, TikTokAudienceNotFound):
                raise  # transient, or gone on TikTok mid-run (the next attempt's lookup handles it): retried
            # An auth error, a bad parameter or a refused spec: TikTok answers a retry the same way.
            self.store.update_lookalike(self.key, status=LookalikeStatus.FAILED.value, status_message=str(err),
                                        last_run_at=utcnow())
            raise SyncFailed(str(err)) from None

    def _usable_source(self) -> str:
        """The source audience's TikTok id, if TikTok can build a lookalike from it now."""
        source = self.store.get_audience(self.key) or {}
        source_id = source.get("tiktok_audience_id")
        advertiser_id = self.client.advertiser_id
        if not source_id:
            raise _Waiting(
                f"the source audience '{self.audience.name}' is not on TikTok yet (status "
                f"{source.get('status') or 'Pending'}); the lookalike is created after TikTok has processed it"
            )
        if source.get("advertiser_id") and str(source["advertiser_id"]) != advertiser_id:
            raise _Waiting(f"the source audience is not yet on advertiser {advertiser_id} (its next sync creates it)")
        try:
            details = self.client.get_audience(source_id)
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

    def _record_waiting(self, why: str) -> dict[str, Any]:
        row = self.store.get_lookalike(self.key) or {}
        # A lookalike that exists keeps its own status; the note says the source is not usable now.
        status = row.get("status") if row.get("tiktok_audience_id") else LookalikeStatus.WAITING.value
        if status == LookalikeStatus.FAILED.value:
            status = LookalikeStatus.WAITING.value
        self.store.update_lookalike(self.key, status=status, status_message=f"Waiting for the source: {why}",
                                    last_run_at=utcnow())
        self.log.info("Lookalike '%s': waiting for the source audience: %s", self.lookalike.name, why)
        return self._summary("waiting", status, row.get("tiktok_audience_id"))

    def _converge(self, source_id: str) -> dict[str, Any]:
        store, client, definition = self.store, self.client, self.lookalike
        row = store.get_lookalike(self.key) or {}
        notes: list[str] = []
        details: dict[str, Any] | None = None
        if row.get("tiktok_audience_id"):
            try:
                details = client.get_audience(row["tiktok_audience_id"])
            except TikTokAudienceNotFound:
                notes.append(f"lookalike {row['tiktok_audience_id']} no longer exists on TikTok (deleted there); "
                             f"it is created again")
                store.update_lookalike(self.key, tiktok_audience_id=None, is_valid=None, cover_num=None)
                row = store.get_lookalike(self.key) or {}
        if not row.get("tiktok_audience_id") and row.get("create_started_at"):
            adopted = self._adopt_interrupted_create(row, source_id)
            if adopted:
                notes.append(f"adopted lookalike {adopted} created by an interrupted run")
                row = store.get_lookalike(self.key) or {}
        plan = plan_lookalike(row, spec=definition.spec(), source_audience_id=source_id,
                              advertiser_id=client.advertiser_id)
        if self.dry_run:
            what = {"create": "create the lookalike", "rebuild": f"create a new lookalike ({plan.reason})",
                    "check": "check the lookalike"}[plan.action]
            store.update_lookalike(self.key, status_message=f"Dry run: would {what}; nothing sent",
                                   last_run_at=utcnow())
            return self._summary(f"dry_run:{plan.action}", row.get("status"), row.get("tiktok_audience_id"))
        if plan.action == "check":
            lookalike_id = row["tiktok_audience_id"]
            details = details or client.get_audience(lookalike_id)
            self._rename_if_needed(lookalike_id, details, notes)
            details = self._maybe_refresh(row, details, notes)
            return self._record_state("checked", lookalike_id, details, notes)
        previous = row.get("tiktok_audience_id")
        lookalike_id = self._create(source_id)
        if plan.action == "rebuild":
            notes.append(
                f"{plan.reason}; TikTok cannot change a lookalike's settings, so lookalike {lookalike_id} was created. "
                f"The previous one, {previous}, was left on TikTok for the ad groups that target it: delete it in "
                f"TikTok Ads Manager once they use the new one"
            )
        return self._record_state("created" if plan.action == "create" else "rebuilt", lookalike_id,
                                  client.get_audience(lookalike_id), notes)

    def _create(self, source_id: str) -> str:
        self.store.update_lookalike(self.key, create_started_at=utcnow())
        with reconciled_on_retry("the lookalike"):
            lookalike_id = self.client.create_lookalike(self.lookalike.name,
                                                        lookalike_spec=self.lookalike.tiktok_spec(source_id))
        self._record_created(lookalike_id, source_id)
        self.log.info("Created lookalike %s of audience %s", lookalike_id, source_id)
        return lookalike_id

    def _record_created(self, lookalike_id: str, source_id: str) -> None:
        definition = self.lookalike
        self.store.update_lookalike(
            self.key, tiktok_audience_id=lookalike_id, create_started_at=None, advertiser_id=self.client.advertiser_id,
            source_audience_id=source_id, spec=definition.spec(), spec_hash=definition.spec_hash(), built_at=utcnow(),
            is_valid=False, cover_num=None,
        )

    def _adopt_interrupted_create(self, row: dict[str, Any], source_id: str) -> str | None:
        """A create whose answer never arrived may still have happened: find it by name and time."""
        found = find_interrupted_create(list(self.client.list_audiences()), name=self.lookalike.name,
                                        started_at=row["create_started_at"])
        if found:
            # It was made from this run's definition and source: record them, so it is not rebuilt.
            self._record_created(found, source_id)
        else:
            self.store.update_lookalike(self.key, create_started_at=None)
        return found

    def _rename_if_needed(self, lookalike_id: str, details: dict[str, Any], notes: list[str]) -> None:
        """A new ``name`` alone does not need a new lookalike: rename it on TikTok."""
        name = self.lookalike.name
        if not details.get("name") or details["name"] == name:
            return
        try:
            self.client.rename_audience(lookalike_id, name)
        except TikTokAuthError:
            raise
        except TikTokApiError as err:
            notes.append(f"TikTok did not rename the lookalike to '{name}' ({err}); the next run tries again")
            return
        notes.append(f"renamed on TikTok from '{details['name']}'")

    def _maybe_refresh(self, row: dict[str, Any], details: dict[str, Any], notes: list[str]) -> dict[str, Any]:
        """Rebuild the lookalike from its source when the source's members changed (at most daily)."""
        if not needs_refresh(built_at=row.get("built_at"), source_changed_at=self._last_membership_change(),
                             now=utcnow()):
            return details
        try:
            self.client.refresh_lookalikes([row["tiktok_audience_id"]])
        except TikTokAuthError:
            raise
        except TikTokApiError as err:
            notes.append(f"TikTok did not refresh the lookalike from the changed source ({err}); "
                         f"the next run tries again")
            return details
        self.store.update_lookalike(self.key, built_at=utcnow())
        notes.append("refreshed from the source audience's changed members")
        return self.client.get_audience(row["tiktok_audience_id"])

    def _last_membership_change(self) -> datetime | None:
        """End of the last run that changed the source audience's members on TikTok, or None."""
        for run in self.store.run_history(self.key, limit=50):
            if run.get("outcome") == "success" and ((run.get("added") or 0) + (run.get("removed") or 0)) > 0:
                finished: datetime | None = run.get("finished_at")
                return finished
        return None

    def _record_state(self, action: str, lookalike_id: str, details: dict[str, Any],
                      notes: list[str]) -> dict[str, Any]:
        is_valid = bool(details.get("is_valid"))
        cover_num = int(details.get("cover_num") or 0) if is_valid else None
        status = status_for(is_valid).value
        self.store.update_lookalike(self.key, name=self.lookalike.name, status=status,
                                    status_message="; ".join(notes) or None, is_valid=is_valid, cover_num=cover_num,
                                    last_run_at=utcnow())
        self.log.info("Lookalike '%s' (%s): %s, %s", self.lookalike.name, lookalike_id, action, status)
        return {**self._summary(action, status, lookalike_id), "cover_num": cover_num}

    def _summary(self, action: str, status: str | None, lookalike_id: str | None) -> dict[str, Any]:
        return {"audience": self.key, "lookalike": self.lookalike.name, "action": action, "status": status,
                "tiktok_audience_id": lookalike_id}
