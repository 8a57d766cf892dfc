"""Operator that brings one TikTok custom audience to exactly the audience's member set."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from tiktok_audiences.metadata import META_CONN_ID
from tiktok_audiences.sync.status import MIN_AUDIENCE_SIZE
from tiktok_audiences.tiktok.partner import CUSTOMER_FILE, PARTNER

if TYPE_CHECKING:
    import pandas as pd
    from airflow.sdk import Context

    from tiktok_audiences.hooks.tiktok import TikTokHook
    from tiktok_audiences.members.membership import Identifiers
    from tiktok_audiences.metadata import AudienceStore, LockHolder

#: TikTok recommends fewer than 50 file paths per create/update and accepts at most 500.
MAX_FILE_PATHS = 50
_API_LABELS = {CUSTOMER_FILE: "customer-file API", PARTNER: "partner (Audience Segment) API"}


class TikTokAudienceSyncOperator(BaseOperator):
    """
    Diff the audience against the identifiers confirmed on TikTok and send only the changes.

    Runs under a per-audience lock in the metadata database, so two runs of one audience (scheduled,
    manual or backfill) never interleave. Additions are sent before removals so the audience never
    dips below TikTok's minimum on the way; every batch is recorded as confirmed only after TikTok
    accepted it. Returns a small summary (counts, status), never identifiers.

    The audience is sent with the API its definition names (``api``), else the integration's extra
    ``api``, else ``customer_file``: customer files (upload, create, APPEND / REMOVE / REPLACE) or
    ``partner`` (``/segment/audience/`` + ``/segment/mapping/`` add / delete).

    :param audience: the audience definition (``AudienceDefinition.as_dict()``)
    :param extract_summary: what the extract task returned (templated; an XCom pull)
    :param full_resync: send the whole audience with REPLACE instead of a diff (templated)
    :param dry_run: compute and report the plan, send nothing (templated)
    :param allow_large_removal: let the run remove more than the configured share of the audience
        or drain it below TikTok's minimum (templated); see :mod:`tiktok_audiences.sync.guards`
    :param meta_conn_id: connection of the metadata database
    :param batch_size: identifiers per uploaded customer file; in partner mode users per
        ``/segment/mapping/`` request, at most 10,000
    :param lock_timeout: how long to wait for another run of the same audience to finish
    :param lock_lease: how long a lock stays valid without being renewed
    """

    template_fields: Sequence[str] = ("extract_summary", "full_resync", "dry_run", "allow_large_removal")
    ui_color = "#fde8ef"

    def __init__(
        self,
        *,
        audience: dict[str, Any],
        extract_summary: Any,
        full_resync: Any = False,
        dry_run: Any = False,
        allow_large_removal: Any = False,
        meta_conn_id: str = META_CONN_ID,
        batch_size: int = 500_000,
        lock_timeout: timedelta = timedelta(minutes=30),
        lock_lease: timedelta = timedelta(minutes=10),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.audience = audience
        self.extract_summary = extract_summary
        self.full_resync = full_resync
        self.dry_run = dry_run
        self.allow_large_removal = allow_large_removal
        self.meta_conn_id = meta_conn_id
        self.batch_size = batch_size
        self.lock_timeout = lock_timeout
        self.lock_lease = lock_lease

    # -- Airflow entry point ------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        from tiktok_audiences.metadata import LockHolder, open_store

        store = open_store(self.meta_conn_id)
        key = self.audience["key"]
        holder = LockHolder.for_run(context["run_id"])
        self._acquire(store, holder)
        try:
            store.start_run(key, context["run_id"])
            return self._sync(context, store, holder)
        finally:
            store.release_lock(key, holder)

    def _acquire(self, store: AudienceStore, holder: LockHolder) -> None:
        current = store.wait_for_lock(
            self.audience["key"], holder, lease_seconds=self.lock_lease.total_seconds(),
            timeout_seconds=self.lock_timeout.total_seconds(),
            on_wait=lambda other: self.log.info("Waiting for run %s to finish syncing this audience", other.holder),
        )
        if current is not None:
            raise AirflowException(
                f"Audience '{self.audience['name']}' is being synced by run {current.holder} "
                f"(host {current.hostname}, pid {current.pid}); gave up waiting after "
                f"{self.lock_timeout}. This run will retry."
            )

    # -- the sync -----------------------------------------------------------------------------

    def _sync(self, context: Context, store: AudienceStore, holder: LockHolder) -> dict[str, Any]:
        from tiktok_audiences.hooks.tiktok import TikTokHook
        from tiktok_audiences.tiktok.errors import (
            TikTokApiError,
            TikTokAudienceBusy,
            TikTokAudienceNotFound,
            TikTokIntegrationError,
            TikTokTooFewMatches,
            is_permanent_tiktok_error,
        )
        from tiktok_audiences.tiktok.partner import resolve_api

        summary_in = self.extract_summary or {}
        if not isinstance(summary_in, dict) or "run_folder" not in summary_in:
            raise AirflowFailException("The extract task returned no staging folder; re-run the whole DAG run.")
        run = _Run.start(self, context, store, summary_in)
        hook = TikTokHook(tiktok_conn_id=self.audience["integration"])
        try:
            hook.integration  # noqa: B018 - a missing or incomplete integration fails here, clearly
        except TikTokIntegrationError as err:
            raise AirflowFailException(str(err)) from None
        run.api = resolve_api(self.audience.get("api"), hook.integration.api)
        self._check_api_matches_extract(run, summary_in)
        try:
            self._locate_tiktok_audience(run, hook)
            self._plan(run)
            self._check_removals(run)
            if _as_bool(self.dry_run):
                return self._finish_dry_run(run)
            if run.audience.size < MIN_AUDIENCE_SIZE:
                return self._finish_too_small(run)
            sender = self._send(run, hook, holder)
            return self._finish_sync(run, hook, sender)
        except TikTokAudienceBusy as err:
            # TikTok is still processing an earlier change (hours, on TikTok): the hook waited a short
            # while; rather than hold the worker and the lock, stop here. Every accepted batch is
            # confirmed, so the next run's diff is exactly the rest.
            return self._finish_busy(run, err)
        except TikTokTooFewMatches as err:
            return self._finish_too_few_matches(run, err)
        except TikTokApiError as err:
            if not is_permanent_tiktok_error(err):
                raise  # transient: Airflow's task retries (after the hook's own) try again
            if isinstance(err, TikTokAudienceNotFound):
                # Deleted on TikTok while this run used it: the next attempt's lookup recreates it.
                raise AirflowException(f"{err}; the retry recreates the TikTok audience") from err
            # Retrying cannot help: TikTok answers the same request the same way (a bad parameter, a
            # file error, a missing permission or partner access), and each retry would upload every
            # file again. The message keeps TikTok's code, message and request id.
            raise AirflowFailException(str(err)) from None

    def _check_api_matches_extract(self, run: _Run, summary: dict[str, Any]) -> None:
        """The identifiers were hashed for one API (phone form); they must be sent with that API.

        Also refuses TikTok's customer-file create options for an audience the integration sends as a
        partner audience (the audience file can only refuse them when it names ``api: partner`` itself).
        """
        hashed_for = summary.get("api")
        if hashed_for and hashed_for != run.api:
            raise AirflowFailException(
                f"The extract task hashed the identifiers for the {_API_LABELS[hashed_for]}, but the audience is "
                f"now sent with the {_API_LABELS[run.api]} (the integration's api changed in between); nothing "
                f"was sent. Fix: re-run the whole DAG run"
            )
        if run.api == PARTNER:
            options = [name for name in ("retention_in_days", "audience_enhancement")
                       if self.audience.get(name) is not None]
            if options:
                raise AirflowFailException(
                    f"Audience '{self.audience['name']}' ({self.audience.get('path', 'its audience file')}) sets "
                    f"{' and '.join(options)}, options of TikTok's customer-file create, but integration "
                    f"'{self.audience['integration']}' sends it with the partner API (/segment/audience/), which "
                    f"takes neither; nothing was sent. Fix: remove {' and '.join(options)} from the file, or add "
                    f"'api: customer_file' to it"
                )

    def _locate_tiktok_audience(self, run: _Run, hook: TikTokHook) -> None:
        """Find the TikTok audience this audience syncs to; forget it if it can no longer be used."""
        from tiktok_audiences.tiktok.errors import TikTokAudienceNotFound

        row, advertiser_id = run.row, hook.advertiser_id
        if run.audience_id and row.get("advertiser_id") and row["advertiser_id"] != advertiser_id:
            run.notes.append(
                f"the integration now points at advertiser {advertiser_id}; a new audience is created there "
                f"(the one on advertiser {row['advertiser_id']} is left untouched)"
            )
            run.forget_tiktok_audience()
        recorded_api = row.get("api") or CUSTOMER_FILE
        if run.audience_id and recorded_api != run.api:
            # A customer-file audience cannot take mappings and a Partner audience cannot take files.
            dry_run = _as_bool(self.dry_run)
            run.notes.append(
                f"the audience is now sent with the {_API_LABELS[run.api]}, so it {'would get' if dry_run else 'gets'} "
                f"a new TikTok audience. The {_API_LABELS[recorded_api]} audience {run.audience_id} is left untouched "
                f"on TikTok (delete it there if it is no longer needed)"
            )
            run.forget_tiktok_audience(persist=not dry_run)
        if run.audience_id:
            try:
                hook.get_audience(run.audience_id)
            except TikTokAudienceNotFound:
                run.notes.append(
                    f"TikTok audience {run.audience_id} no longer exists on TikTok (deleted there); it is recreated"
                )
                run.forget_tiktok_audience()
        if not run.audience_id and row.get("create_started_at"):
            run.audience_id = self._adopt_interrupted_create(hook, run.store, row, run.api)
            if run.audience_id:
                run.notes.append(f"adopted TikTok audience {run.audience_id} created by an interrupted run")

    def _plan(self, run: _Run) -> None:
        from tiktok_audiences.members import membership

        started = time.perf_counter()
        if _as_bool(self.full_resync) or not run.audience_id:
            run.mode = "replace" if run.audience_id else "create"
            if run.mode == "replace":
                # What a REPLACE keeps (for the removal guard), counted before the upload frame exists:
                # at 10M contacts the two together passed 2 GiB. The count is remembered.
                _overlap(run.desired, run.confirmed)
            run.additions, run.removals = run.desired.to_frame(), membership.empty_identifiers()
            if run.mode == "replace" and run.api == PARTNER:
                # The Segment API has no REPLACE: every member is added again (idempotent) and every
                # confirmed identifier no longer in the audience is deleted.
                run.mode = "resync"
                run.removals = membership.diff_members(run.desired, run.possibly_on_tiktok()).removals
        else:
            run.mode = "incremental"
            changes = membership.diff_members(run.desired, run.confirmed)
            run.additions, run.removals = changes.additions, changes.removals
            if not run.unconfirmed.empty:
                run.removals = membership.diff_members(run.desired, run.possibly_on_tiktok()).removals
        if not run.unconfirmed.empty and run.mode in ("incremental", "resync"):
            run.notes.append(
                f"{len(run.unconfirmed):,} identifier(s) were sent by an earlier run that never recorded TikTok's "
                f"answer; the ones still in the audience are sent again and the others removed"
            )
        run.timings["set_ops_diff"] += time.perf_counter() - started
        self.log.info(
            "Audience '%s': %d contacts (%d identifiers), %d excluded; plan %s: +%d / -%d identifiers",
            self.audience["name"], run.audience.size, len(run.desired), run.audience.excluded_contacts,
            run.mode, len(run.additions), len(run.removals),
        )

    def _check_removals(self, run: _Run) -> None:
        """The removal guard: an emptied segment looks exactly like "everyone left"; a person decides."""
        from tiktok_audiences.sync import guards

        live = len(run.confirmed) if run.audience_id else 0
        removals = len(run.removals) if run.mode == "incremental" else live - _overlap(run.desired, run.confirmed)
        check = guards.check_removals(
            live_identifiers=live,
            removals=removals,
            live_size=run.row.get("size") if run.audience_id else None,
            new_size=run.audience.size,
            max_share=guards.max_removal_share(),
            live_cover_num=run.row.get("cover_num") if run.audience_id and run.row.get("is_valid") else None,
        )
        if check.blocked and not _as_bool(self.allow_large_removal):
            message = f"Removal guard: {check.blocked}"
            if not _as_bool(self.dry_run):
                raise AirflowFailException(message)
            run.notes.append(message)

    def _finish_dry_run(self, run: _Run) -> dict[str, Any]:
        plan = run.plan()
        run.notes.insert(
            0, f"Dry run: would {run.mode} (+{plan['to_add']} / -{plan['to_remove']} identifiers); nothing sent"
        )
        run.finish(outcome="dry_run", added=plan["to_add"], removed=plan["to_remove"])
        return run.result("dry_run", run.row["status"])

    def _finish_too_small(self, run: _Run) -> dict[str, Any]:
        from tiktok_audiences.metadata import utcnow
        from tiktok_audiences.sync.status import AudienceStatus

        run.notes.append(
            f"{run.audience.size} contacts; TikTok needs at least {MIN_AUDIENCE_SIZE:,} matched users and refuses "
            f"creates and updates below that, which fewer contacts cannot reach, so nothing was sent"
        )
        run.store.update_audience(
            run.key, status=AudienceStatus.TOO_SMALL.value, status_message=run.message(), size=run.audience.size,
            match_rate=None, last_run_at=utcnow(), last_error=None, deleted_segments=json.dumps(run.deleted_segments),
        )
        run.finish(outcome="too_small", added=0, removed=0)
        self._remember_segments(run.store, run.folder)
        return run.result("too_small", AudienceStatus.TOO_SMALL.value)

    def _finish_busy(self, run: _Run, err: Exception) -> dict[str, Any]:
        """TikTok refused an update as "being updated or under processing": record what was confirmed."""
        from tiktok_audiences.metadata import utcnow
        from tiktok_audiences.sync.status import AudienceStatus

        sender = run.sender
        added, removed = (sender.added, sender.removed) if sender else (0, 0)
        audience_id = run.audience_id or (sender.audience_id if sender else None)
        waited = getattr(err, "waited_seconds", 0.0)
        run.notes.insert(
            0,
            f"TikTok was still processing an earlier change of audience {audience_id} and refused the next update "
            f"(after waiting {waited:.0f} s): {err}. {added:,} identifier(s) added and {removed:,} removed are "
            f"confirmed on TikTok; the next run sends the rest",
        )
        run.store.update_audience(
            run.key, status=AudienceStatus.SYNCING.value, status_message=run.message(), size=run.audience.size,
            last_run_at=utcnow(), last_error=None, deleted_segments=json.dumps(run.deleted_segments),
        )
        run.finish(outcome="partial", added=added, removed=removed)
        self._remember_segments(run.store, run.folder)
        self.log.warning("Stopped early, TikTok still processing: %s", run.message())
        result = run.result("partial", AudienceStatus.SYNCING.value)
        result.update(tiktok_audience_id=audience_id, added=added, removed=removed)
        return result

    def _finish_too_few_matches(self, run: _Run, err: Exception) -> dict[str, Any]:
        """TikTok refuses every update of an audience it created with fewer than 1,000 matched users.

        No retry or later run changes that, so the run ends (task success, no Airflow retry) as Too
        Small with what the user can do; a full_resync then creates a new TikTok audience in its place.
        """
        from tiktok_audiences.metadata import utcnow
        from tiktok_audiences.sync.status import AudienceStatus

        sender = run.sender
        added, removed = (sender.added, sender.removed) if sender else (0, 0)
        run.notes.insert(
            0,
            f"TikTok refuses updates of audience {run.audience_id}: it was created with fewer than "
            f"{MIN_AUDIENCE_SIZE:,} matched TikTok users ({err}), so nothing more was sent. Add contacts TikTok can "
            f"match (emails, phones, mobile ad ids), then run once with full_resync to create a new TikTok audience "
            f"in its place (the old one stays on TikTok until you delete it there)",
        )
        run.store.update_audience(
            run.key, status=AudienceStatus.TOO_SMALL.value, status_message=run.message(), size=run.audience.size,
            match_rate=None, last_run_at=utcnow(), last_error=None, deleted_segments=json.dumps(run.deleted_segments),
        )
        run.finish(outcome="too_small", added=added, removed=removed)
        self._remember_segments(run.store, run.folder)
        return run.result("too_small", AudienceStatus.TOO_SMALL.value)

    def _send(self, run: _Run, hook: TikTokHook, holder: LockHolder) -> _Sender | _PartnerSender:
        from tiktok_audiences.members import membership
        from tiktok_audiences.sync.status import AudienceStatus
        from tiktok_audiences.tiktok.errors import TikTokApiError, TikTokTooFewMatches

        run.store.update_audience(run.key, status=AudienceStatus.SYNCING.value, status_message=None)
        started = time.perf_counter()
        if run.api == PARTNER:
            partner_sender = _PartnerSender(self, hook, run.store, holder)
            run.sender = partner_sender
            if run.mode == "create":
                run.audience_id = partner_sender.create(self.audience["name"], run.additions)
            else:
                partner_sender.apply(run.audience_id, run.additions, run.removals,
                                     already_confirmed=run.confirmed if run.mode == "resync" else None)
            run.store.settle_unconfirmed(run.key)  # the whole plan was accepted (see below)
            run.timings["upload"] = time.perf_counter() - started
            return partner_sender
        sender = _Sender(self, hook, run.store, holder, calculate_type_for(self.audience["identifiers"]))
        run.sender = sender
        if run.mode == "create":
            run.audience_id = sender.create(self.audience["name"], run.additions)
        elif run.mode == "replace":
            try:
                sender.replace(run.audience_id, run.additions, run.confirmed)
            except TikTokTooFewMatches as err:
                # The user asked for a full resync of an audience TikTok will never update again: the
                # files just uploaded become a new TikTok audience; the old one is left on TikTok.
                old_id = run.audience_id
                run.forget_tiktok_audience()
                run.mode = "create"
                run.audience_id = sender.create(self.audience["name"], run.additions, uploaded=sender.uploaded)
                run.notes.append(
                    f"TikTok refuses updates of audience {old_id} (created with fewer than {MIN_AUDIENCE_SIZE:,} "
                    f"matched users: {err.tiktok_message}), so the full resync created TikTok audience "
                    f"{run.audience_id} in its place; {old_id} is left on TikTok (delete it there)"
                )
            except TikTokApiError as err:
                if not is_replace_limit(err):
                    raise
                # TikTok takes about one REPLACE per audience per day and changed nothing (neither did
                # we: the confirmed set is only swapped after an accepted REPLACE). The files already
                # uploaded are APPENDed instead (re-adding anything TikTok lacks) and what is confirmed
                # but no longer wanted is REMOVEd: the member set a REPLACE would have left, except for
                # identifiers TikTok might hold that were never recorded here.
                self.log.warning("TikTok refused the REPLACE (%s); sending APPEND + REMOVE instead", err)
                confirmed = run.store.load_confirmed(run.key)
                possibly = membership.Identifiers.distinct(
                    membership.Identifiers.from_frame(confirmed), run.store.load_unconfirmed_identifiers(run.key)
                )
                removals = membership.diff_members(run.desired, possibly).removals
                sender.append_uploaded(run.audience_id, confirmed)
                sender.apply(run.audience_id, membership.empty_identifiers(), removals)
                run.notes.append(
                    f"TikTok refused the full resync's REPLACE ({err.code}: {err.tiktok_message}), so the audience "
                    f"was not replaced; every member was sent again with APPEND and {len(removals):,} identifier(s) "
                    f"no longer in the audience were removed with REMOVE, which reaches the same members unless "
                    f"TikTok holds identifiers this package never sent (re-run full_resync after 24 hours to replace)"
                )
        else:
            sender.apply(run.audience_id, run.additions, run.removals)
        # Every batch of the plan was accepted, and the plan covered what earlier runs left in doubt.
        run.store.settle_unconfirmed(run.key)
        run.timings["upload"] = time.perf_counter() - started
        return sender

    def _finish_sync(self, run: _Run, hook: TikTokHook, sender: _Sender | _PartnerSender) -> dict[str, Any]:
        """Read the audience back from TikTok and record status, match, size and the run."""
        from tiktok_audiences.metadata import utcnow
        from tiktok_audiences.sync.status import match_rate, resolve_status, too_few_matched

        started = time.perf_counter()
        details = hook.get_audience(run.audience_id)
        cover_num = int(details.get("cover_num") or 0)
        is_valid = bool(details.get("is_valid"))
        status = resolve_status(
            size=run.audience.size, tiktok_audience_id=run.audience_id, is_valid=is_valid,
            deleted_segments=run.deleted_segments, cover_num=cover_num,
        )
        rate = match_rate(cover_num, run.audience.size) if is_valid else None
        if too_few_matched(cover_num, is_valid):
            run.notes.append(
                f"TikTok matched {cover_num:,} of {run.audience.size:,} contacts to TikTok users; it needs "
                f"{MIN_AUDIENCE_SIZE:,} matched users to make the audience usable in ad groups, and may refuse "
                f"updates until then. Add contacts or identifiers (e.g. phones) to reach more users"
            )
        if run.deleted_segments:
            run.notes.append(
                f"deleted segment(s) {', '.join(map(str, run.deleted_segments))} keep syncing with their criteria "
                f"or last members; remove them from the audience file"
            )
        now = utcnow()
        run.store.update_audience(
            run.key, status=status.value, status_message=run.message(), size=run.audience.size,
            cover_num=cover_num, match_rate=rate, is_valid=is_valid, tiktok_audience_id=run.audience_id,
            advertiser_id=hook.advertiser_id, calculate_type=sender.calculate_type, api=run.api,
            deleted_segments=json.dumps(run.deleted_segments), last_sync_at=now, last_run_at=now, last_error=None,
        )
        self._remember_segments(run.store, run.folder)
        run.timings["record"] = time.perf_counter() - started
        run.finish(outcome="success", added=sender.added, removed=sender.removed, cover_num=cover_num, match_rate=rate)
        result = run.result("success", status.value)
        result.update(
            tiktok_audience_id=run.audience_id, api=run.api, added=sender.added, removed=sender.removed,
            requests=sender.requests,
            bytes_sent=sender.bytes_sent, cover_num=cover_num, match_rate=rate,
        )
        self.log.info("Synced: %s", {k: v for k, v in result.items() if k != "invalid"})
        return result

    def _adopt_interrupted_create(self, hook: TikTokHook, store: AudienceStore, row: dict[str, Any],
                                  api: str) -> str | None:
        """A create whose answer never arrived may still have happened: find it by name, kind and time."""
        from tiktok_audiences.sync.reconcile import find_interrupted_create
        from tiktok_audiences.tiktok.partner import is_api_of, partner_audience_name

        name = partner_audience_name(self.audience["name"]) if api == PARTNER else self.audience["name"]
        audience_id = find_interrupted_create(hook.list_audiences(), name=name, started_at=row["create_started_at"],
                                              accept=lambda details: is_api_of(details, api))
        if audience_id:
            store.update_audience(self.audience["key"], tiktok_audience_id=audience_id, create_started_at=None, api=api)
            # It holds what the interrupted create sent, which the journal (unconfirmed set) remembers.
            store.forget_confirmed(self.audience["key"], unconfirmed=False)
            return audience_id
        store.update_audience(self.audience["key"], create_started_at=None)
        return None

    def _remember_segments(self, store: AudienceStore, folder) -> None:
        from tiktok_audiences.members import staging

        segments = json.loads((folder / "segments.json").read_text())
        store.save_segment_snapshot(self.audience["key"], segments, staging.read_frame(folder / "static_members.parquet"))


class _Run:
    """What one run knows about its audience as it goes: members, TikTok's side, plan, notes."""

    def __init__(self, *, key: str, run_id: str, store: AudienceStore, row: dict[str, Any], folder, audience,
                 confirmed: Identifiers, unconfirmed: Identifiers, summary: dict[str, Any],
                 timings: dict[str, float]) -> None:
        from tiktok_audiences.members import membership

        self.key = key
        self.run_id = run_id
        self.store = store
        self.row = row
        self.folder = folder
        self.audience = audience
        # Desired and confirmed identifiers as compact keys (membership.Identifiers); additions and
        # removals are id_type/id_hash frames, what _Sender uploads.
        self.desired = audience.identifiers
        self.confirmed = confirmed
        #: Sent by earlier runs that never recorded TikTok's answer: TikTok may hold them or not
        self.unconfirmed = unconfirmed
        self.audience_id: str | None = row["tiktok_audience_id"]
        self.api = CUSTOMER_FILE  # set from the definition and the integration once the hook is made
        self.deleted_segments = list(summary.get("deleted_segments") or [])
        self.timings = timings
        self.notes: list[str] = []
        self.mode = ""
        self.additions = self.removals = membership.empty_identifiers()
        #: The sender of this run once sending started (what TikTok accepted so far, if it stops early)
        self.sender: _Sender | _PartnerSender | None = None
        self.counts = {
            "extracted": int(summary.get("include_contacts", 0)),
            "invalid": summary.get("invalid") or {},
            "excluded": audience.excluded_contacts,
            "size": audience.size,
        }

    @classmethod
    def start(cls, operator: TikTokAudienceSyncOperator, context: Context, store: AudienceStore,
              summary: dict[str, Any]) -> _Run:
        """Register the audience and load the desired and the confirmed identifiers."""
        from tiktok_audiences.members import membership, staging
        from tiktok_audiences.sync.status import AudienceStatus

        key = operator.audience["key"]
        row = store.register_audience(operator.audience, context["dag"].dag_id,
                                      initial_status=AudienceStatus.PENDING.value)
        timings: dict[str, float] = dict(summary.get("timings") or {})
        started = time.perf_counter()
        folder = staging.run_folder_from_url(summary["run_folder"])
        audience = membership.build_audience(
            staging.read_member_keys(folder / "include.parquet"), staging.read_member_keys(folder / "exclude.parquet")
        )
        confirmed = store.load_confirmed_identifiers(key)
        unconfirmed = store.load_unconfirmed_identifiers(key)
        timings["set_ops_diff"] = time.perf_counter() - started
        return cls(key=key, run_id=context["run_id"], store=store, row=row, folder=folder, audience=audience,
                   confirmed=confirmed, unconfirmed=unconfirmed, summary=summary, timings=timings)

    def forget_tiktok_audience(self, *, persist: bool = True) -> None:
        """The TikTok audience can no longer be used: a new one is created and filled from scratch.

        :param persist: also forget it in the metadata tables (False for a dry run, which changes nothing)
        """
        if persist:
            self.store.update_audience(self.key, tiktok_audience_id=None, is_valid=None, cover_num=None)
            self.store.forget_confirmed(self.key)
        self.audience_id = None
        self.confirmed = type(self.confirmed).none()
        self.unconfirmed = type(self.unconfirmed).none()

    def possibly_on_tiktok(self) -> Identifiers:
        """The confirmed identifiers and those an earlier run sent without hearing TikTok's answer."""
        from tiktok_audiences.members.membership import Identifiers

        return Identifiers.distinct(self.confirmed, self.unconfirmed) if not self.unconfirmed.empty else self.confirmed

    def plan(self) -> dict[str, Any]:
        return {"mode": self.mode, "to_add": int(len(self.additions)), "to_remove": int(len(self.removals)),
                "identifiers": int(len(self.desired))}

    def message(self) -> str | None:
        return "; ".join(self.notes) or None

    def finish(self, *, outcome: str, **values: Any) -> None:
        self.store.finish_run(self.key, self.run_id, outcome=outcome, timings=_rounded(self.timings),
                              message=self.message(), **self.counts, **values)

    def result(self, outcome: str, status: str) -> dict[str, Any]:
        """The task's return value (its XCom): counts and status, never identifiers."""
        return {"audience": self.key, "outcome": outcome, "status": status, "plan": self.plan(), **self.counts}


class _Sender:
    """Uploads customer files and applies them, confirming each batch once TikTok accepted it."""

    def __init__(self, operator: TikTokAudienceSyncOperator, hook: TikTokHook, store: AudienceStore,
                 holder: LockHolder, calculate_type: str) -> None:
        self.operator = operator
        self.hook = hook
        self.store = store
        self.holder = holder
        self.key = operator.audience["key"]
        self.id_types = list(operator.audience["identifiers"])
        self.calculate_type = calculate_type
        self.added = 0
        self.removed = 0
        self.requests = 0
        self.bytes_sent = 0
        self.audience_id: str | None = None
        #: What the last create / REPLACE uploaded: file paths, the identifiers they hold, the rest
        self.uploaded: tuple[list[str], pd.DataFrame, list[pd.DataFrame]] | None = None

    def _batches(self, identifiers: pd.DataFrame) -> list[pd.DataFrame]:
        size = self.operator.batch_size
        return [identifiers.iloc[i : i + size] for i in range(0, len(identifiers), size)]

    def _upload(self, batch: pd.DataFrame, label: str) -> str:
        content = customer_file(batch, self.id_types)
        self.bytes_sent += len(content)
        self.requests += 1
        path = self.hook.upload_file(content, calculate_type=self.calculate_type, file_name=f"{self.key}-{label}.csv")
        self.store.renew_lock(self.key, self.holder, self.operator.lock_lease.total_seconds())
        return path

    def create(self, name: str, identifiers: pd.DataFrame,
               uploaded: tuple[list[str], pd.DataFrame, list[pd.DataFrame]] | None = None) -> str:
        """Create the audience from ``identifiers`` (or from files already ``uploaded`` for them)."""
        from tiktok_audiences.metadata import utcnow
        from tiktok_audiences.tiktok.errors import TikTokRetryableError

        paths, created, rest = uploaded or self._upload_whole_set(identifiers, "create")
        # Journaled first: if the answer is lost, the adopted audience may hold any of them.
        self.store.begin_batch(self.key, adding=created)
        self.store.update_audience(self.key, create_started_at=utcnow())
        self.requests += 1
        try:
            audience_id = self.hook.create_audience(
                name, calculate_type=self.calculate_type, file_paths=paths,
                retention_in_days=self.operator.audience.get("retention_in_days"),
                audience_enhancement=self.operator.audience.get("audience_enhancement"),
            )
        except TikTokRetryableError as err:
            # The create may or may not have happened; the next attempt adopts it by name if it did.
            raise AirflowException(f"Creating the TikTok audience did not complete ({err}); the retry reconciles") from err
        self.store.update_audience(self.key, tiktok_audience_id=audience_id, create_started_at=None,
                                   advertiser_id=self.hook.advertiser_id, calculate_type=self.calculate_type,
                                   api=CUSTOMER_FILE)
        self.audience_id = audience_id
        self.store.confirm_replaced(self.key, created)
        self.added += len(created)
        self.operator.log.info("Created TikTok audience %s with %d identifiers", audience_id, len(created))
        self._append_all(audience_id, rest)
        return audience_id

    def replace(self, audience_id: str, identifiers: pd.DataFrame, confirmed: Identifiers) -> None:
        """REPLACE the audience's members with ``identifiers``.

        :param confirmed: the identifiers confirmed on TikTok before the REPLACE
        """
        from tiktok_audiences.members import membership

        paths, replaced, rest = self._upload_whole_set(identifiers, "replace")
        self.uploaded = (paths, replaced, rest)  # kept for append_uploaded / create if TikTok refuses the REPLACE
        # Once sent, TikTok may hold the new files' identifiers, and may have dropped the others.
        changes = membership.diff_members(replaced, confirmed)
        self.store.begin_batch(self.key, adding=changes.additions, removing=changes.removals)
        self.requests += 1
        self.hook.update_audience(audience_id, file_paths=paths, action="REPLACE")
        self.store.confirm_replaced(self.key, replaced)
        self.added += len(replaced)
        self._append_all(audience_id, rest)

    def append_uploaded(self, audience_id: str, confirmed: pd.DataFrame) -> None:
        """APPEND the files a refused REPLACE carried (no new upload), then what else is unconfirmed.

        :param confirmed: the identifiers confirmed on TikTok before the REPLACE
        """
        import pandas as pd

        from tiktok_audiences.members import membership

        assert self.uploaded is not None, "append_uploaded follows a refused replace"
        paths, uploaded, rest = self.uploaded
        self.requests += 1
        self.hook.update_audience(audience_id, file_paths=paths, action="APPEND")
        new = membership.diff_members(uploaded, confirmed).additions
        self.store.confirm_added(self.key, new)
        self.added += len(new)
        if rest:
            remaining = membership.diff_members(pd.concat(rest, ignore_index=True), confirmed).additions
            self._append_all(audience_id, self._batches(remaining))

    def _upload_whole_set(self, identifiers: pd.DataFrame, label: str) -> tuple[list[str], pd.DataFrame, list[pd.DataFrame]]:
        """Upload the files one create/REPLACE may carry; returns their paths, what they hold, and the rest.

        A create or REPLACE takes at most ``MAX_FILE_PATHS`` files; anything beyond is APPENDed after it.
        """
        batches = self._batches(identifiers)
        first, rest = batches[:MAX_FILE_PATHS], batches[MAX_FILE_PATHS:]
        paths = [self._upload(batch, f"{label}-{n}") for n, batch in enumerate(first)]
        return paths, identifiers.iloc[: sum(len(b) for b in first)], rest

    def _append_all(self, audience_id: str, batches: list[pd.DataFrame]) -> None:
        for n, batch in enumerate(batches):
            self._apply_batch(audience_id, batch, "APPEND", f"append-{n}")

    def apply(self, audience_id: str, additions: pd.DataFrame, removals: pd.DataFrame) -> None:
        # Additions first: the audience then never passes below its final size on the way.
        self._append_all(audience_id, self._batches(additions))
        for n, batch in enumerate(self._batches(removals)):
            self._apply_batch(audience_id, batch, "REMOVE", f"remove-{n}")

    def _apply_batch(self, audience_id: str, batch: pd.DataFrame, action: str, label: str) -> None:
        path = self._upload(batch, label)
        removing = action == "REMOVE"
        batch_id = self.store.begin_batch(self.key, **{"removing" if removing else "adding": batch})
        self.requests += 1
        self.hook.update_audience(audience_id, file_paths=[path], action=action)
        if removing:
            self.store.confirm_removed(self.key, batch, batch_id)
            self.removed += len(batch)
        else:
            self.store.confirm_added(self.key, batch, batch_id)
            self.added += len(batch)
        self.operator.log.info("TikTok accepted %s of %d identifiers", action, len(batch))


class _PartnerSender:
    """Creates a Partner audience and mirrors membership with ``/segment/mapping/`` add / delete.

    Same contract as :class:`_Sender`: additions before removals, each batch recorded as confirmed
    only after TikTok accepted it, the lock renewed per batch, requests and bytes counted.
    """

    calculate_type = None  # Partner audiences have no customer-file encryption type

    def __init__(self, operator: TikTokAudienceSyncOperator, hook: TikTokHook, store: AudienceStore,
                 holder: LockHolder) -> None:
        self.operator = operator
        self.hook = hook
        self.store = store
        self.holder = holder
        self.key = operator.audience["key"]
        self.added = 0
        self.removed = 0
        self.requests = 0
        self.bytes_sent = 0
        self.audience_id: str | None = None

    def create(self, name: str, identifiers: pd.DataFrame) -> str:
        from tiktok_audiences.metadata import utcnow
        from tiktok_audiences.tiktok.errors import TikTokRetryableError
        from tiktok_audiences.tiktok.partner import partner_audience_name

        self.store.update_audience(self.key, create_started_at=utcnow())
        self.requests += 1
        try:
            audience_id = self.hook.create_partner_audience(partner_audience_name(name))
        except TikTokRetryableError as err:
            # The create may or may not have happened; the next attempt adopts it by name if it did.
            raise AirflowException(f"Creating the TikTok audience did not complete ({err}); the retry reconciles") from err
        self.store.update_audience(self.key, tiktok_audience_id=audience_id, create_started_at=None,
                                   advertiser_id=self.hook.advertiser_id, calculate_type=None, api=PARTNER)
        self.audience_id = audience_id
        self.store.forget_confirmed(self.key)  # a new audience starts empty (the journal too)
        self.operator.log.info("Created TikTok audience %s (Partner, empty); adding %d identifiers", audience_id,
                               len(identifiers))
        self.apply(audience_id, identifiers, identifiers.iloc[0:0])
        return audience_id

    def apply(self, audience_id: str, additions: pd.DataFrame, removals: pd.DataFrame,
              already_confirmed: pd.DataFrame | None = None) -> None:
        """Add, then delete, in batches of at most 10,000 users.

        :param already_confirmed: for a full resync, which re-adds identifiers already confirmed:
            only the others are recorded (and counted) as added
        """
        from tiktok_audiences.tiktok.partner import mapping_batches

        # Additions first: the audience then never passes below its final size on the way.
        for batch in mapping_batches(additions, self.operator.batch_size):
            self._map(audience_id, batch, "add", already_confirmed)
        for batch in mapping_batches(removals, self.operator.batch_size):
            self._map(audience_id, batch, "delete")

    def _map(self, audience_id: str, batch: pd.DataFrame, action: str,
             already_confirmed: pd.DataFrame | None = None) -> None:
        from tiktok_audiences.members import membership
        from tiktok_audiences.tiktok.partner import mapping_batch

        payload = mapping_batch(audience_id, batch)
        if action == "delete":
            batch_id = self.store.begin_batch(self.key, removing=batch)
        else:
            new = batch if already_confirmed is None else membership.diff_members(batch, already_confirmed).additions
            batch_id = self.store.begin_batch(self.key, adding=new)
        self.requests += 1
        self.bytes_sent += self.hook.map_members(action=action, id_schema=payload.id_schema,
                                                 batch_data=payload.batch_data)
        if action == "delete":
            self.store.confirm_removed(self.key, batch, batch_id)
            self.removed += len(batch)
        else:
            self.store.confirm_added(self.key, new, batch_id)
            self.added += len(new)
        self.store.renew_lock(self.key, self.holder, self.operator.lock_lease.total_seconds())
        self.operator.log.info("TikTok accepted mapping %s of %d identifiers", action, len(batch))


def is_replace_limit(error: Exception) -> bool:
    """TikTok's refusal of a second REPLACE while one is unfinished (about one per audience per day).

    TikTok documents the message ("an unfinished replace operation … no more than once per day"),
    not the code, so any permanent refusal whose message speaks of replacing counts.
    """
    from tiktok_audiences.tiktok.errors import (
        TikTokAudienceNotFound,
        TikTokAuthError,
        TikTokPartnerAccessError,
        TikTokRetryableError,
    )

    if isinstance(error, (TikTokRetryableError, TikTokAuthError, TikTokAudienceNotFound, TikTokPartnerAccessError)):
        return False
    return getattr(error, "code", None) is not None and "replace" in str(getattr(error, "tiktok_message", "")).lower()


def calculate_type_for(id_types: Sequence[str]) -> str:
    """TikTok's encryption type for an audience sending these identifier types."""
    from tiktok_audiences.members.identifier_types import TIKTOK_CALCULATE_TYPE

    if len(id_types) == 1:
        return TIKTOK_CALCULATE_TYPE[id_types[0]]
    return "MULTIPLE_TYPES"


def customer_file(identifiers: pd.DataFrame, id_types: Sequence[str]) -> bytes:
    """A customer file: a header row naming each column's ID type, then one identifier per row.

    With one identifier type the file has one column; with several (``MULTIPLE_TYPES``) it has one
    column per type and each row fills only the column of its identifier.
    """
    from tiktok_audiences.members.identifier_types import TIKTOK_ID_COLUMN

    columns = [t for t in id_types]
    header = ",".join(TIKTOK_ID_COLUMN[t] for t in columns)
    if len(columns) == 1:
        body = "\n".join(identifiers["id_hash"].tolist())
    else:
        position = {t: i for i, t in enumerate(columns)}
        prefix = {t: "," * position[t] for t in columns}
        suffix = {t: "," * (len(columns) - 1 - position[t]) for t in columns}
        body = "\n".join(
            f"{prefix[t]}{h}{suffix[t]}"
            for t, h in zip(identifiers["id_type"].tolist(), identifiers["id_hash"].tolist(), strict=True)
        )
    return (header + "\n" + body + "\n").encode("ascii")


def _overlap(desired: Identifiers, confirmed: Identifiers) -> int:
    """How many confirmed identifiers are still desired (what a REPLACE keeps)."""
    from tiktok_audiences.members import membership

    return len(confirmed) - membership.count_removed(desired, confirmed)


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _rounded(timings: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 3) for k, v in timings.items()}
