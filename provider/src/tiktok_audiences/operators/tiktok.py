"""Operator that brings one TikTok custom audience to exactly the audience's member set."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from tiktok_audiences.store import META_CONN_ID

if TYPE_CHECKING:
    import pandas as pd
    from airflow.sdk import Context

    from tiktok_audiences.hooks.tiktok import TikTokHook
    from tiktok_audiences.store import AudienceStore, LockHolder

#: TikTok recommends fewer than 50 file paths per create/update and accepts at most 500.
MAX_FILE_PATHS = 50


class TikTokAudienceSyncOperator(BaseOperator):
    """
    Diff the audience against the identifiers confirmed on TikTok and send only the changes.

    Runs under a per-audience lock in the metadata database, so two runs of one audience (scheduled,
    manual or backfill) never interleave. Additions are APPENDed before removals are REMOVEd so the
    audience never dips below TikTok's minimum on the way; every batch is recorded as confirmed only
    after TikTok accepted it. Returns a small summary (counts, status), never identifiers.

    :param audience: the audience definition (``AudienceDefinition.as_dict()``)
    :param extract_summary: what the extract task returned (templated; an XCom pull)
    :param full_resync: send the whole audience with REPLACE instead of a diff (templated)
    :param dry_run: compute and report the plan, send nothing (templated)
    :param allow_large_removal: let the run remove more than the configured share of the audience
        or drain it below TikTok's minimum (templated); see :mod:`tiktok_audiences.guards`
    :param meta_conn_id: connection of the metadata database
    :param batch_size: identifiers per uploaded customer file
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
        from tiktok_audiences.db import reachable
        from tiktok_audiences.store import AudienceStore, LockHolder, meta_engine

        store = AudienceStore(reachable(meta_engine(self.meta_conn_id), self.meta_conn_id, "metadata database"))
        store.migrate()
        key = self.audience["key"]
        holder = LockHolder.for_run(context["run_id"])
        self._acquire(store, holder)
        try:
            store.start_run(key, context["run_id"])
            return self._sync(context, store, holder)
        finally:
            store.release_lock(key, holder)

    def _acquire(self, store: AudienceStore, holder: LockHolder) -> None:
        key = self.audience["key"]
        deadline = time.monotonic() + self.lock_timeout.total_seconds()
        waited = False
        while True:
            current = store.acquire_lock(key, holder, self.lock_lease.total_seconds())
            if current is None:
                return
            if time.monotonic() >= deadline:
                raise AirflowException(
                    f"Audience '{self.audience['name']}' is being synced by run {current.holder} "
                    f"(host {current.hostname}, pid {current.pid}); gave up waiting after "
                    f"{self.lock_timeout}. This run will retry."
                )
            if not waited:
                self.log.info("Waiting for run %s to finish syncing this audience", current.holder)
                waited = True
            time.sleep(2)

    # -- the sync -----------------------------------------------------------------------------

    def _sync(self, context: Context, store: AudienceStore, holder: LockHolder) -> dict[str, Any]:
        from tiktok_audiences import guards, membership, staging
        from tiktok_audiences.exceptions import (
            TikTokApiError,
            TikTokAudienceNotFound,
            TikTokAuthError,
            TikTokIntegrationError,
        )
        from tiktok_audiences.hooks.tiktok import TikTokHook
        from tiktok_audiences.status import MIN_AUDIENCE_SIZE, AudienceStatus, match_rate, resolve_status
        from tiktok_audiences.store import utcnow

        key, name = self.audience["key"], self.audience["name"]
        run_id = context["run_id"]
        summary_in = self.extract_summary or {}
        if not isinstance(summary_in, dict) or "run_folder" not in summary_in:
            raise AirflowFailException("The extract task returned no staging folder; re-run the whole DAG run.")
        dry_run = _as_bool(self.dry_run)
        full_resync = _as_bool(self.full_resync)
        timings: dict[str, float] = dict(summary_in.get("timings") or {})
        deleted_segments = list(summary_in.get("deleted_segments") or [])

        row = store.register_audience(
            self.audience, context["dag"].dag_id, initial_status=AudienceStatus.PENDING.value
        )

        started = time.perf_counter()
        folder = staging.run_folder_from_url(summary_in["run_folder"])
        audience = membership.build_audience(
            staging.read_frame(folder / "include.parquet"), staging.read_frame(folder / "exclude.parquet")
        )
        desired = audience.identifiers
        confirmed = store.load_confirmed(key)
        timings["set_ops_diff"] = time.perf_counter() - started

        hook = TikTokHook(tiktok_conn_id=self.audience["integration"])
        try:
            integration = hook.integration
        except TikTokIntegrationError as err:
            raise AirflowFailException(str(err)) from None

        notes: list[str] = []
        audience_id = row["tiktok_audience_id"]
        calculate_type = calculate_type_for(self.audience["identifiers"])
        try:
            if audience_id and row.get("advertiser_id") and row["advertiser_id"] != integration.advertiser_id:
                notes.append(
                    f"the integration now points at advertiser {integration.advertiser_id}; a new audience is "
                    f"created there (the one on advertiser {row['advertiser_id']} is left untouched)"
                )
                audience_id = None
                store.forget_confirmed(key)
                confirmed = confirmed.iloc[0:0]
            if audience_id:
                try:
                    hook.get_audience(audience_id)
                except TikTokAudienceNotFound:
                    notes.append(f"TikTok audience {audience_id} no longer exists on TikTok (deleted there); it is recreated")
                    store.update_audience(key, tiktok_audience_id=None, is_valid=None, cover_num=None)
                    store.forget_confirmed(key)
                    audience_id = None
                    confirmed = confirmed.iloc[0:0]
            if not audience_id and row.get("create_started_at"):
                audience_id = self._adopt_interrupted_create(hook, store, row)
                if audience_id:
                    notes.append(f"adopted TikTok audience {audience_id} created by an interrupted run")

            started = time.perf_counter()
            if full_resync or not audience_id:
                plan_additions, plan_removals = desired, membership.empty_identifiers()
                mode = "replace" if audience_id else "create"
            else:
                changes = membership.diff_members(desired, confirmed)
                plan_additions, plan_removals = changes.additions, changes.removals
                mode = "incremental"
            timings["set_ops_diff"] += time.perf_counter() - started

            counts = {
                "extracted": int(summary_in.get("include_contacts", 0)),
                "invalid": summary_in.get("invalid") or {},
                "excluded": audience.excluded_contacts,
                "size": audience.size,
            }
            plan = {
                "mode": mode,
                "to_add": int(len(plan_additions)),
                "to_remove": int(len(plan_removals)),
                "identifiers": int(len(desired)),
            }
            self.log.info(
                "Audience '%s': %d contacts (%d identifiers), %d excluded; plan %s: +%d / -%d identifiers",
                name, audience.size, len(desired), audience.excluded_contacts, mode, plan["to_add"], plan["to_remove"],
            )

            # Removal guard: an emptied segment looks exactly like "everyone left"; refuse to act on it
            # without a person's explicit override.
            live = len(confirmed) if audience_id else 0
            planned_removals = plan["to_remove"] if mode == "incremental" else max(0, live - _overlap(desired, confirmed))
            check = guards.check_removals(
                live_identifiers=live,
                removals=planned_removals,
                live_size=row.get("size") if audience_id else None,
                new_size=audience.size,
                max_share=guards.max_removal_share(),
            )
            if check.blocked and not _as_bool(self.allow_large_removal):
                message = f"Removal guard: {check.blocked}"
                if not dry_run:
                    raise AirflowFailException(message)
                notes.append(message)

            if dry_run:
                message = "; ".join(
                    [f"Dry run: would {mode} (+{plan['to_add']} / -{plan['to_remove']} identifiers); nothing sent", *notes]
                )
                store.finish_run(key, run_id, outcome="dry_run", added=plan["to_add"], removed=plan["to_remove"],
                                 timings=_rounded(timings), message=message, **counts)
                return {"audience": key, "outcome": "dry_run", "status": row["status"], "plan": plan, **_public(counts)}

            if audience.size < MIN_AUDIENCE_SIZE:
                message = (
                    f"{audience.size} contacts; TikTok needs at least {MIN_AUDIENCE_SIZE:,} and refuses creates and "
                    f"updates below that, so nothing was sent"
                )
                notes.append(message)
                store.update_audience(
                    key, status=AudienceStatus.TOO_SMALL.value, status_message="; ".join(notes), size=audience.size,
                    match_rate=None, last_run_at=utcnow(), last_error=None,
                    deleted_segments=json.dumps(deleted_segments),
                )
                store.finish_run(key, run_id, outcome="too_small", added=0, removed=0, timings=_rounded(timings),
                                 message="; ".join(notes), **counts)
                self._remember_segments(store, folder)
                return {"audience": key, "outcome": "too_small", "status": AudienceStatus.TOO_SMALL.value,
                        "plan": plan, **_public(counts)}

            store.update_audience(key, status=AudienceStatus.SYNCING.value, status_message=None)
            started = time.perf_counter()
            sender = _Sender(self, hook, store, holder, calculate_type)
            if mode == "create":
                audience_id = sender.create(name, plan_additions)
            elif mode == "replace":
                try:
                    sender.replace(audience_id, plan_additions)
                except TikTokApiError as err:
                    if not is_replace_limit(err):
                        raise
                    # TikTok takes about one REPLACE per audience per day and changed nothing; APPEND +
                    # REMOVE of the difference reaches the same member set.
                    changes = membership.diff_members(desired, store.load_confirmed(key))
                    sender.apply(audience_id, changes.additions, changes.removals)
                    notes.append(
                        f"TikTok refused the full resync's REPLACE ({err.code}: {err.tiktok_message}); the "
                        f"difference was sent with APPEND + REMOVE instead, which reaches the same members"
                    )
            else:
                sender.apply(audience_id, plan_additions, plan_removals)
            timings["upload"] = time.perf_counter() - started

            started = time.perf_counter()
            details = hook.get_audience(audience_id)
            cover_num = int(details.get("cover_num") or 0)
            is_valid = bool(details.get("is_valid"))
            status = resolve_status(
                size=audience.size, tiktok_audience_id=audience_id, is_valid=is_valid, deleted_segments=deleted_segments
            )
            rate = match_rate(cover_num, audience.size) if is_valid else None
            if deleted_segments:
                notes.append(
                    "deleted segment(s) "
                    + ", ".join(str(s) for s in deleted_segments)
                    + " keep syncing with their criteria or last members; remove them from the audience file"
                )
            now = utcnow()
            store.update_audience(
                key, status=status.value, status_message="; ".join(notes) or None, size=audience.size,
                cover_num=cover_num, match_rate=rate, is_valid=is_valid, tiktok_audience_id=audience_id,
                advertiser_id=integration.advertiser_id, calculate_type=calculate_type,
                deleted_segments=json.dumps(deleted_segments), last_sync_at=now, last_run_at=now, last_error=None,
            )
            self._remember_segments(store, folder)
            timings["record"] = time.perf_counter() - started
            store.finish_run(key, run_id, outcome="success", added=sender.added, removed=sender.removed,
                             cover_num=cover_num, match_rate=rate, timings=_rounded(timings),
                             message="; ".join(notes) or None, **counts)
        except TikTokAuthError as err:
            # Retrying cannot help: the integration must be re-authenticated first.
            raise AirflowFailException(str(err)) from None
        result = {
            "audience": key,
            "outcome": "success",
            "status": status.value,
            "tiktok_audience_id": audience_id,
            "added": sender.added,
            "removed": sender.removed,
            "requests": sender.requests,
            "bytes_sent": sender.bytes_sent,
            "cover_num": cover_num,
            "match_rate": rate,
            "plan": plan,
            **_public(counts),
        }
        self.log.info("Synced: %s", {k: v for k, v in result.items() if k != "invalid"})
        return result

    def _adopt_interrupted_create(self, hook: TikTokHook, store: AudienceStore, row: dict[str, Any]) -> str | None:
        """A create whose answer never arrived may still have happened: find it by name and time."""
        since = row["create_started_at"] - timedelta(minutes=5)
        for details in hook.list_audiences():
            if details.get("name") != self.audience["name"]:
                continue
            created = _parse_tiktok_time(details.get("create_time"))
            if created is None or created >= since:
                audience_id = str(details["audience_id"])
                store.update_audience(self.audience["key"], tiktok_audience_id=audience_id, create_started_at=None)
                store.forget_confirmed(self.audience["key"])
                return audience_id
        store.update_audience(self.audience["key"], create_started_at=None)
        return None

    def _remember_segments(self, store: AudienceStore, folder) -> None:
        from tiktok_audiences import staging

        segments = json.loads((folder / "segments.json").read_text())
        store.save_segment_snapshot(self.audience["key"], segments, staging.read_frame(folder / "static_members.parquet"))


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

    def create(self, name: str, identifiers: pd.DataFrame) -> str:
        from tiktok_audiences.exceptions import TikTokRetryableError
        from tiktok_audiences.store import utcnow

        batches = self._batches(identifiers)
        first, rest = batches[:MAX_FILE_PATHS], batches[MAX_FILE_PATHS:]
        paths = [self._upload(batch, f"create-{n}") for n, batch in enumerate(first)]
        self.store.update_audience(self.key, create_started_at=utcnow())
        self.requests += 1
        try:
            audience_id = self.hook.create_audience(name, calculate_type=self.calculate_type, file_paths=paths)
        except TikTokRetryableError as err:
            # The create may or may not have happened; the next attempt adopts it by name if it did.
            raise AirflowException(f"Creating the TikTok audience did not complete ({err}); the retry reconciles") from err
        created = identifiers.iloc[: sum(len(b) for b in first)]
        self.store.update_audience(self.key, tiktok_audience_id=audience_id, create_started_at=None,
                                   advertiser_id=self.hook.advertiser_id, calculate_type=self.calculate_type)
        self.store.confirm_replaced(self.key, created)
        self.added += len(created)
        self.operator.log.info("Created TikTok audience %s with %d identifiers", audience_id, len(created))
        for n, batch in enumerate(rest):
            self._apply_batch(audience_id, batch, "APPEND", f"append-{n}")
        return audience_id

    def replace(self, audience_id: str, identifiers: pd.DataFrame) -> None:
        batches = self._batches(identifiers)
        first, rest = batches[:MAX_FILE_PATHS], batches[MAX_FILE_PATHS:]
        paths = [self._upload(batch, f"replace-{n}") for n, batch in enumerate(first)]
        self.requests += 1
        self.hook.update_audience(audience_id, file_paths=paths, action="REPLACE")
        replaced = identifiers.iloc[: sum(len(b) for b in first)]
        self.store.confirm_replaced(self.key, replaced)
        self.added += len(replaced)
        for n, batch in enumerate(rest):
            self._apply_batch(audience_id, batch, "APPEND", f"append-{n}")

    def apply(self, audience_id: str, additions: pd.DataFrame, removals: pd.DataFrame) -> None:
        # Additions first: the audience then never passes below its final size on the way.
        for n, batch in enumerate(self._batches(additions)):
            self._apply_batch(audience_id, batch, "APPEND", f"append-{n}")
        for n, batch in enumerate(self._batches(removals)):
            self._apply_batch(audience_id, batch, "REMOVE", f"remove-{n}")

    def _apply_batch(self, audience_id: str, batch: pd.DataFrame, action: str, label: str) -> None:
        path = self._upload(batch, label)
        self.requests += 1
        self.hook.update_audience(audience_id, file_paths=[path], action=action)
        if action == "REMOVE":
            self.store.confirm_removed(self.key, batch)
            self.removed += len(batch)
        else:
            self.store.confirm_added(self.key, batch)
            self.added += len(batch)
        self.operator.log.info("TikTok accepted %s of %d identifiers", action, len(batch))


def is_replace_limit(error: Exception) -> bool:
    """TikTok's refusal of a second REPLACE while one is unfinished (about one per audience per day)."""
    return getattr(error, "code", None) == 40002 and "replace" in str(getattr(error, "tiktok_message", "")).lower()


def calculate_type_for(id_types: Sequence[str]) -> str:
    """TikTok's encryption type for an audience sending these identifier types."""
    from tiktok_audiences.identifiers import TIKTOK_ID_COLUMN

    if len(id_types) == 1:
        return TIKTOK_ID_COLUMN[id_types[0]]
    return "MULTIPLE_TYPES"


def customer_file(identifiers: pd.DataFrame, id_types: Sequence[str]) -> bytes:
    """A customer file: a header row naming each column's ID type, then one identifier per row.

    With one identifier type the file has one column; with several (``MULTIPLE_TYPES``) it has one
    column per type and each row fills only the column of its identifier.
    """
    from tiktok_audiences.identifiers import TIKTOK_ID_COLUMN

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


def _overlap(desired: pd.DataFrame, confirmed: pd.DataFrame) -> int:
    """How many confirmed identifiers are still desired (what a REPLACE keeps)."""
    from tiktok_audiences import membership

    return len(confirmed) - len(membership.diff_members(desired, confirmed).removals)


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _rounded(timings: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 3) for k, v in timings.items()}


def _public(counts: dict[str, Any]) -> dict[str, Any]:
    return {k: counts[k] for k in ("extracted", "invalid", "excluded", "size")}


def _parse_tiktok_time(value: Any):
    from datetime import datetime

    if not value:
        return None
    try:
        return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
