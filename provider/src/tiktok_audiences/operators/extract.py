"""Operator that extracts an audience's segment members and hashes them at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowFailException

from tiktok_audiences.operators.base import AudienceOperator

if TYPE_CHECKING:
    from airflow.sdk import Context
    from sqlalchemy.engine import Engine

    from tiktok_audiences.members.identifier_types import Normalization
    from tiktok_audiences.members.sql import SqlTemplates
    from tiktok_audiences.members.staging import StoragePath


class AudienceMembersExtractOperator(AudienceOperator):
    """
    Read the members of an audience's include and exclude segments and write them, hashed, to staging.

    Raw identifiers exist only in this task's memory: each chunk read from the contact database is
    normalized and SHA-256 hashed before anything is written. The task returns the staging folder
    and counts (never identifiers).

    :param audience: the audience definition (see :class:`~tiktok_audiences.operators.base.AudienceOperator`)
    :param sql_dir: folder of the SQL statements (``include/sql``)
    :param staging_url: ObjectStoragePath base URL for the run's files (templated)
    :param contacts_conn_id: connection of the contact database
    :param chunk_size: contacts read and hashed per chunk
    :param identifier_cache: reuse the hashes of contacts whose identifiers did not change since the
        last run (see :mod:`tiktok_audiences.members.identifier_cache`; ``TIKTOK_AUDIENCES_CACHE_URL=off``
        also turns it off)
    """

    template_fields: Sequence[str] = ("staging_url",)
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        sql_dir: str,
        staging_url: str,
        contacts_conn_id: str = "contacts_db",
        chunk_size: int = 100_000,
        identifier_cache: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sql_dir = sql_dir
        self.staging_url = staging_url
        self.contacts_conn_id = contacts_conn_id
        self.chunk_size = chunk_size
        self.identifier_cache = identifier_cache

    def execute(self, context: Context) -> dict[str, Any]:
        from tiktok_audiences.db.reachability import reachable
        from tiktok_audiences.members import staging
        from tiktok_audiences.members.sql import SqlTemplates
        from tiktok_audiences.metadata import open_store
        from tiktok_audiences.metadata.engines import sql_engine_from_connection

        key = self.audience.key
        store = open_store(self.meta_conn_id)
        snapshot = store.load_segment_snapshot(key)
        remembered = {
            sid: store.load_snapshot_members(key, sid) for sid, seg in snapshot.items() if seg["criteria"] is None
        }

        contacts = reachable(
            sql_engine_from_connection(BaseHook.get_connection(self.contacts_conn_id)),
            self.contacts_conn_id,
            "contact database",
        )
        sql = SqlTemplates.load(self.sql_dir)
        folder = staging.run_folder(self.staging_url, context["dag"].dag_id, context["run_id"])
        folder.mkdir(parents=True, exist_ok=True)

        try:
            return self._extract(contacts, sql, folder, snapshot, remembered)
        except BaseException:
            # The cleanup teardown only runs when this (its setup) succeeded, so a failed extraction
            # removes its own partial files.
            staging.remove_folder(folder)
            raise

    def _extract(
        self,
        contacts: Engine,
        sql: SqlTemplates,
        folder: StoragePath,
        snapshot: dict[int, dict[str, Any]],
        remembered: dict[int, list[int]],
    ) -> dict[str, Any]:
        from tiktok_audiences.members.identifier_cache import cache_base_url
        from tiktok_audiences.members.reading import stage_members
        from tiktok_audiences.members.sql import SegmentError

        api, normalization = self._normalization()
        try:
            staged = stage_members(
                contacts, sql, folder,
                audience_key=self.audience.key,
                include_segments=self.audience.include_segments,
                exclude_segments=self.audience.exclude_segments,
                id_types=self.audience.identifiers,
                snapshot=snapshot,
                remembered_members=remembered,
                cache_url=cache_base_url() if self.identifier_cache else None,
                chunk_size=self.chunk_size,
                normalization=normalization,
            )
        except SegmentError as err:
            raise AirflowFailException(f"Audience '{self.audience.name}': {err}") from None
        summary = {
            "run_folder": str(folder),
            "include_contacts": staged.contacts["include"],
            "exclude_contacts": staged.contacts["exclude"],
            "invalid": dict(sorted(staged.invalid.items())),
            "missing": dict(sorted(staged.missing.items())),
            "deleted_segments": staged.deleted_segments,
            "timings": {k: round(v, 3) for k, v in staged.timings.items()},
            "identifier_cache": staged.cache,
            # How the identifiers were hashed: the sync checks it sends them with the same API.
            "api": api,
            "normalization": normalization.as_key(),
        }
        self.log.info(
            "Extracted %d include and %d exclude contacts; invalid identifiers by reason: %s; deleted segments: %s",
            summary["include_contacts"],
            summary["exclude_contacts"],
            summary["invalid"] or "none",
            staged.deleted_segments or "none",
        )
        self.log.info(
            "Identifier cache: %s",
            "; ".join(f"{role} {c['state']}, {c['reused']} contacts reused, {c['hashed']} hashed"
                      for role, c in staged.cache.items()),
        )
        return summary

    def _normalization(self) -> tuple[str, Normalization]:
        """The API the audience is sent with and the normalization options its hashes follow.

        Phones are hashed per API (digits for customer files, E.164 for the partner API), so the API
        is resolved here as the sync resolves it: the audience file's ``api``, else the integration's
        extra ``api``, else the customer-file API.
        """
        from tiktok_audiences.members.identifier_types import Normalization
        from tiktok_audiences.tiktok.partner import APIS, PARTNER, resolve_api

        integration_api = None
        if not self.audience.api:
            try:
                extra = BaseHook.get_connection(self.audience.integration).extra_dejson
            except Exception:  # noqa: BLE001 - a missing integration fails the sync task, with its own message
                extra = {}
            raw = extra.get("api")
            integration_api = raw.strip().lower() if isinstance(raw, str) and raw.strip().lower() in APIS else None
        api = resolve_api(self.audience.api, integration_api)
        settings = dict(self.audience.normalization)
        if api == PARTNER and settings.get("phone_format", "e164") != "e164":
            raise AirflowFailException(
                f"Audience '{self.audience.name}' ({self.audience.path or 'its audience file'}): "
                f"normalization.phone_format is '{settings['phone_format']}', but integration "
                f"'{self.audience.integration}' sends it with TikTok's partner API, which takes phones only as "
                f"E.164 with '+'. Fix: remove normalization.phone_format, or add 'api: customer_file' to the file"
            )
        return api, Normalization.from_settings(settings, api)
