"""The audience sync: bring one TikTok custom audience to exactly the audience's member set.

The flow of a run: register the run → read the staged members → find the TikTok audience (or what
an interrupted create made) → plan (:mod:`~tiktok_audiences.sync.plan`) → removal guard
(:mod:`~tiktok_audiences.sync.guards`) → send with the API's sender (:mod:`~tiktok_audiences.sync.senders`)
→ read the audience back and record status, match rate, size and the run (:mod:`~tiktok_audiences.sync.outcomes`).

The audience is sent with the API its definition names (``api``), else the integration's extra
``api``, else ``customer_file``. The engine runs under the audience's lock (the caller holds it,
see :func:`~tiktok_audiences.sync.locking.audience_lock`) and knows nothing of Airflow.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from tiktok_audiences.definitions import AudienceDefinition
from tiktok_audiences.members import membership
from tiktok_audiences.metadata import AudienceStore, LockHolder
from tiktok_audiences.sync import guards, outcomes
from tiktok_audiences.sync.client import TikTokClient
from tiktok_audiences.sync.errors import SyncFailed, SyncRetry
from tiktok_audiences.sync.options import SyncOptions
from tiktok_audiences.sync.plan import (
    CREATE,
    INCREMENTAL,
    REPLACE,
    RESYNC,
    plan_sync,
    possibly_on_tiktok,
    removal_count,
)
from tiktok_audiences.sync.reconcile import find_interrupted_create
from tiktok_audiences.sync.run import ExtractedMembers, SyncRun
from tiktok_audiences.sync.senders import CustomerFileSender, PartnerSender, Sender, SenderContext
from tiktok_audiences.sync.status import MIN_AUDIENCE_SIZE, AudienceStatus
from tiktok_audiences.tiktok.customer_files import calculate_type_for, is_replace_limit
from tiktok_audiences.tiktok.errors import (
    TikTokApiError,
    TikTokAudienceBusy,
    TikTokAudienceNotFound,
    TikTokIntegrationError,
    TikTokTooFewMatches,
    is_permanent_tiktok_error,
)
from tiktok_audiences.tiktok.partner import (
    API_LABELS,
    CUSTOMER_FILE,
    PARTNER,
    is_api_of,
    partner_audience_name,
    resolve_api,
)


class AudienceSync:
    """One run of one audience's sync.

    :param definition: the audience
    :param options: what the run was asked to do
    :param client: TikTok (the Airflow hook in a task)
    :param store: the metadata store
    :param holder: this run's hold on the audience's lock (renewed as batches are sent)
    :param log: where progress is logged (the task's logger)
    """

    def __init__(self, definition: AudienceDefinition, options: SyncOptions, *, client: TikTokClient,
                 store: AudienceStore, holder: LockHolder, log: logging.Logger) -> None:
        self.definition = definition
        self.options = options
        self.client = client
        self.store = store
        self.holder = holder
        self.log = log

    def run(self, *, run_id: str, dag_id: str, extract_summary: object,
            folder_from_url: Callable[[str], Any]) -> dict[str, Any]:
        """Sync; returns the run's summary (counts and status, never identifiers).

        :raises SyncFailed: retrying cannot help (bad input, a permanent TikTok refusal)
        :raises SyncRetry: a later attempt can finish (the TikTok audience vanished mid-run)
        """
        self.store.start_run(self.definition.key, run_id)
        extracted = ExtractedMembers.from_summary(extract_summary, folder_from_url)
        run = SyncRun.start(self.definition, run_id=run_id, dag_id=dag_id, store=self.store, extracted=extracted)
        try:
            integration = self.client.integration  # a missing or incomplete integration fails here, clearly
        except TikTokIntegrationError as err:
            raise SyncFailed(str(err)) from None
        run.api = resolve_api(self.definition.api, integration.api)
        self._check_api_matches_extract(run)
        try:
            self._locate_tiktok_audience(run)
            self._plan(run)
            self._check_removals(run)
            if self.options.dry_run:
                return outcomes.dry_run(run)
            if run.audience.size < MIN_AUDIENCE_SIZE:
                return outcomes.too_small(run)
            sender = self._send(run)
            return outcomes.synced(run, self.client, sender, self.log)
        except TikTokAudienceBusy as err:
            # TikTok is still processing an earlier change (hours, on TikTok): the hook waited a short
            # while; rather than hold the worker and the lock, stop here. Every accepted batch is
            # confirmed, so the next run's diff is exactly the rest.
            return outcomes.busy(run, err, self.log)
        except TikTokTooFewMatches as err:
            return outcomes.too_few_matches(run, err)
        except TikTokApiError as err:
            if not is_permanent_tiktok_error(err):
                raise  # transient: the task's retries (after the hook's own) try again
            if isinstance(err, TikTokAudienceNotFound):
                # Deleted on TikTok while this run used it: the next attempt's lookup recreates it.
                raise SyncRetry(f"{err}; the retry recreates the TikTok audience") from err
            # Retrying cannot help: TikTok answers the same request the same way (a bad parameter, a
            # file error, a missing permission or partner access), and each retry would upload every
            # file again. The message keeps TikTok's code, message and request id.
            raise SyncFailed(str(err)) from None

    # -- before sending -------------------------------------------------------------------------

    def _check_api_matches_extract(self, run: SyncRun) -> None:
        """The identifiers were hashed for one API (phone form); they must be sent with that API.

        Also refuses TikTok's customer-file create options for an audience the integration sends as a
        partner audience (the audience file can only refuse them when it names ``api: partner`` itself).
        """
        definition = self.definition
        hashed_for = run.extracted.api
        if hashed_for and hashed_for != run.api:
            raise SyncFailed(
                f"The extract task hashed the identifiers for the {API_LABELS[hashed_for]}, but the audience is "
                f"now sent with the {API_LABELS[run.api]} (the integration's api changed in between); nothing "
                f"was sent. Fix: re-run the whole DAG run"
            )
        if run.api == PARTNER:
            options = [name for name in ("retention_in_days", "audience_enhancement")
                       if getattr(definition, name) is not None]
            if options:
                raise SyncFailed(
                    f"Audience '{definition.name}' ({definition.path or 'its audience file'}) sets "
                    f"{' and '.join(options)}, options of TikTok's customer-file create, but integration "
                    f"'{definition.integration}' sends it with the partner API (/segment/audience/), which "
                    f"takes neither; nothing was sent. Fix: remove {' and '.join(options)} from the file, or add "
                    f"'api: customer_file' to it"
                )

    def _locate_tiktok_audience(self, run: SyncRun) -> None:
        """Find the TikTok audience this audience syncs to; forget it if it can no longer be used."""
        row, advertiser_id = run.row, self.client.advertiser_id
        if run.audience_id and row.get("advertiser_id") and row["advertiser_id"] != advertiser_id:
            run.notes.append(
                f"the integration now points at advertiser {advertiser_id}; a new audience is created there "
                f"(the one on advertiser {row['advertiser_id']} is left untouched)"
            )
            run.forget_tiktok_audience()
        recorded_api = row.get("api") or CUSTOMER_FILE
        if run.audience_id and recorded_api != run.api:
            # A customer-file audience cannot take mappings and a Partner audience cannot take files.
            dry_run = self.options.dry_run
            run.notes.append(
                f"the audience is now sent with the {API_LABELS[run.api]}, so it {'would get' if dry_run else 'gets'} "
                f"a new TikTok audience. The {API_LABELS[recorded_api]} audience {run.audience_id} is left untouched "
                f"on TikTok (delete it there if it is no longer needed)"
            )
            run.forget_tiktok_audience(persist=not dry_run)
        if run.audience_id:
            try:
                self.client.get_audience(run.audience_id)
            except TikTokAudienceNotFound:
                run.notes.append(
                    f"TikTok audience {run.audience_id} no longer exists on TikTok (deleted there); it is recreated"
                )
                run.forget_tiktok_audience()
        if not run.audience_id and row.get("create_started_at"):
            run.audience_id = self._adopt_interrupted_create(run)
            if run.audience_id:
                run.notes.append(f"adopted TikTok audience {run.audience_id} created by an interrupted run")

    def _adopt_interrupted_create(self, run: SyncRun) -> str | None:
        """A create whose answer never arrived may still have happened: find it by name, kind and time."""
        key, api = self.definition.key, run.api
        name = partner_audience_name(self.definition.name) if api == PARTNER else self.definition.name
        audience_id = find_interrupted_create(self.client.list_audiences(), name=name,
                                              started_at=run.row["create_started_at"],
                                              accept=lambda details: is_api_of(details, api))
        if audience_id:
            self.store.update_audience(key, tiktok_audience_id=audience_id, create_started_at=None, api=api)
            # It holds what the interrupted create sent, which the journal (unconfirmed set) remembers.
            self.store.forget_confirmed(key, unconfirmed=False)
            return audience_id
        self.store.update_audience(key, create_started_at=None)
        return None

    def _plan(self, run: SyncRun) -> None:
        started = time.perf_counter()
        run.plan = plan_sync(desired=run.desired, confirmed=run.confirmed, unconfirmed=run.unconfirmed,
                             has_audience=bool(run.audience_id), full_resync=self.options.full_resync, api=run.api)
        if not run.unconfirmed.empty and run.plan.mode in (INCREMENTAL, RESYNC):
            run.notes.append(
                f"{len(run.unconfirmed):,} identifier(s) were sent by an earlier run that never recorded TikTok's "
                f"answer; the ones still in the audience are sent again and the others removed"
            )
        run.timings["set_ops_diff"] += time.perf_counter() - started
        self.log.info(
            "Audience '%s': %d contacts (%d identifiers), %d excluded; plan %s: +%d / -%d identifiers",
            self.definition.name, run.audience.size, len(run.desired), run.audience.excluded_contacts,
            run.plan.mode, len(run.plan.additions), len(run.plan.removals),
        )

    def _check_removals(self, run: SyncRun) -> None:
        """The removal guard: an emptied segment looks exactly like "everyone left"; a person decides."""
        live = len(run.confirmed) if run.audience_id else 0
        check = guards.check_removals(
            live_identifiers=live,
            removals=removal_count(run.plan, desired=run.desired, confirmed=run.confirmed) if live else 0,
            live_size=run.row.get("size") if run.audience_id else None,
            new_size=run.audience.size,
            max_share=guards.max_removal_share(),
            live_cover_num=run.row.get("cover_num") if run.audience_id and run.row.get("is_valid") else None,
        )
        if check.blocked and not self.options.allow_large_removal:
            message = f"Removal guard: {check.blocked}"
            if not self.options.dry_run:
                raise SyncFailed(message)
            run.notes.append(message)

    # -- sending --------------------------------------------------------------------------------

    def _sender_context(self) -> SenderContext:
        return SenderContext(key=self.definition.key, name=self.definition.name, client=self.client,
                             store=self.store, holder=self.holder, lock_lease_seconds=self.options.lock_lease_seconds,
                             batch_size=self.options.batch_size, log=self.log)

    def _send(self, run: SyncRun) -> Sender:
        self.store.update_audience(run.key, status=AudienceStatus.SYNCING.value, status_message=None)
        started = time.perf_counter()
        plan = run.plan
        if run.api == PARTNER:
            partner = PartnerSender(self._sender_context())
            run.sender = partner
            if plan.mode == CREATE:
                run.audience_id = partner.create(plan.additions)
            else:
                assert run.audience_id is not None
                partner.apply(run.audience_id, plan.additions, plan.removals,
                              already_confirmed=run.confirmed if plan.mode == RESYNC else None)
        else:
            definition = self.definition
            sender = CustomerFileSender(
                self._sender_context(), id_types=definition.identifiers,
                calculate_type=calculate_type_for(definition.identifiers),
                retention_in_days=definition.retention_in_days, audience_enhancement=definition.audience_enhancement,
            )
            run.sender = sender
            if plan.mode == CREATE:
                run.audience_id = sender.create(plan.additions)
            elif plan.mode == REPLACE:
                self._replace(run, sender)
            else:
                assert run.audience_id is not None
                sender.apply(run.audience_id, plan.additions, plan.removals)
        # Every batch of the plan was accepted, and the plan covered what earlier runs left in doubt.
        self.store.settle_unconfirmed(run.key)
        run.timings["upload"] = time.perf_counter() - started
        assert run.sender is not None
        return run.sender

    def _replace(self, run: SyncRun, sender: CustomerFileSender) -> None:
        """A full resync of a customer-file audience: REPLACE, or what TikTok lets us do instead."""
        assert run.audience_id is not None
        try:
            sender.replace(run.audience_id, run.plan.additions, run.confirmed)
        except TikTokTooFewMatches as err:
            # The user asked for a full resync of an audience TikTok will never update again: the
            # files just uploaded become a new TikTok audience; the old one is left on TikTok.
            old_id = run.audience_id
            run.forget_tiktok_audience()
            run.plan.mode = CREATE
            run.audience_id = sender.create(run.plan.additions, uploaded=sender.uploaded)
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
            confirmed = self.store.load_confirmed(run.key)
            # Reloaded: the refused REPLACE journaled its batch before it was sent.
            removals = membership.removed_identifiers(run.desired, possibly_on_tiktok(
                membership.Identifiers.from_frame(confirmed), self.store.load_unconfirmed_identifiers(run.key)))
            sender.append_uploaded(run.audience_id, confirmed)
            sender.apply(run.audience_id, membership.empty_identifiers(), removals)
            run.notes.append(
                f"TikTok refused the full resync's REPLACE ({err.code}: {err.tiktok_message}), so the audience "
                f"was not replaced; every member was sent again with APPEND and {len(removals):,} identifier(s) "
                f"no longer in the audience were removed with REMOVE, which reaches the same members unless "
                f"TikTok holds identifiers this package never sent (re-run full_resync after 24 hours to replace)"
            )
