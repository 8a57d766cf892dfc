"""A per-audience cache of hashed identifiers, so a run normalizes only the contacts that changed.

Normalizing phone numbers (libphonenumber, pure Python) is most of an extraction's cost, yet from
one day to the next only a few contacts change. For each audience and role (include, exclude) the
cache keeps, from the last extraction:

* ``<generation>-contacts.parquet``: ``contact_id``, ``digest`` — a 64-bit hash of the
  contact's raw identifier columns, computed *in the contact database* on PostgreSQL
  (:data:`.segments.PG_DIGEST`) — and the outcome code of each identifier column
  (hashed, missing or the invalid reason, to recount what the run reports);
* ``<generation>-members.parquet``: the contact's identifiers as 33-byte keys (the staging member rows);
* ``manifest.json``: which generation is current, the key it was computed under, and the
  generations it replaced in the last :data:`RETIRED_GRACE` (their files stay, so a run of the same
  audience that started reading one of them — backfills and manual runs extract concurrently,
  only the sync is locked — can finish reading it).

A run (:func:`.reading.role_members`) streams only ``contact_id, digest`` of the segments'
contacts, reuses the hashes of every contact whose digest is unchanged, fetches and hashes only
new and changed contacts, and writes the next generation; this module only stores, loads and
checks generations. The key holds :data:`.normalize.NORMALIZATION_VERSION`, the libphonenumber
release, the requested identifier types and how digests are computed: any difference and the
cache is ignored (everything is hashed again and a fresh generation written). A cache that cannot
be read is ignored the same way, so the cache can only ever save work, never change a result.

Only hashes, digests, contact ids and outcome codes are stored — never a raw identifier. The cache
lives under ``$TIKTOK_AUDIENCES_CACHE_URL`` (an ObjectStoragePath URL; default
``$AIRFLOW_HOME/tiktok_audiences/cache``), never in a run's staging folder, which is deleted after
every run. ``TIKTOK_AUDIENCES_CACHE_URL=off`` turns it off.

No Airflow import at module level: functions take a folder (``pathlib.Path`` or
``ObjectStoragePath``); only :func:`audience_folder` makes an ``ObjectStoragePath``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.parquet as pq

from tiktok_audiences.home import home_url
from tiktok_audiences.members.identifier_types import DEFAULT_NORMALIZATION, Normalization
from tiktok_audiences.members.normalize import NORMALIZATION_VERSION
from tiktok_audiences.members.staging import MEMBER_SCHEMA, StoragePath, remove_folder

log = logging.getLogger(__name__)

CACHE_ENV = "TIKTOK_AUDIENCES_CACHE_URL"
FORMAT_VERSION = 2  # 2: members as 33-byte keys
MANIFEST = "manifest.json"
#: How long a replaced generation's files are kept for runs still reading it (a read of a 10M-contact
#: generation takes well under a minute).
RETIRED_GRACE = timedelta(hours=1)
_OFF = {"", "off", "none", "false", "0"}


def cache_base_url() -> str | None:
    """``$TIKTOK_AUDIENCES_CACHE_URL``, a folder under ``AIRFLOW_HOME`` by default, or None if turned off."""
    configured = os.environ.get(CACHE_ENV)
    if configured is not None:
        return None if configured.strip().lower() in _OFF else configured
    return home_url("tiktok_audiences", "cache")


def audience_folder(base_url: str, audience_key: str, role: str) -> StoragePath:
    """The cache folder of one audience's include or exclude contacts."""
    # The one Airflow object the cache needs (it may live in any object store Airflow knows);
    # imported here so that the room imports without Airflow.
    from airflow.sdk import ObjectStoragePath

    safe_key = re.sub(r"[^A-Za-z0-9_.-]", "_", audience_key)
    return ObjectStoragePath(base_url.rstrip("/")) / safe_key / role


def forget_audience(audience_key: str, base_url: str | None = None) -> bool:
    """Delete an audience's cache (both roles), e.g. when the audience is deleted; False if none.

    Only disk space is at stake: a cache never changes a result, so a left-over one is harmless.
    """
    base_url = base_url if base_url is not None else cache_base_url()
    if base_url is None:
        return False
    return remove_folder(audience_folder(base_url, audience_key, "include").parent)


def cache_key(id_types: Sequence[str], digest_kind: str,
              normalization: Normalization = DEFAULT_NORMALIZATION) -> dict[str, Any]:
    """What hashes in a cache depend on; a cache written under another key is not used.

    The audience's normalization options (phone form(s), email ``+suffix`` and dots) change hashes,
    so they are part of the key: switching ``phone_format`` re-hashes everything once.
    """
    return {
        "format": FORMAT_VERSION,
        "normalization": NORMALIZATION_VERSION,
        "options": normalization.as_key(),
        "phonenumbers": phonenumbers.__version__,
        "identifiers": list(id_types),
        "digest": digest_kind,
    }


def contact_schema(id_types: Sequence[str]) -> pa.Schema:
    return pa.schema(
        [("contact_id", pa.int64()), ("digest", pa.int64())] + [(f"outcome_{t}", pa.int8()) for t in id_types]
    )


# ------------------------------------------------------------------------------ pure logic


def unchanged_contacts(
    ids: np.ndarray, digests: np.ndarray, cached_ids: np.ndarray, cached_digests: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Which contacts kept the digest they had in the cache, and where they are in it.

    :param ids: contact ids of this run (unique)
    :param digests: their digests, aligned with ``ids``
    :param cached_ids: contact ids in the cache, sorted ascending and unique
    :param cached_digests: their digests, aligned with ``cached_ids``
    :return: ``(mask, positions)``: ``mask[i]`` is True when contact ``ids[i]`` is in the cache with
        the same digest; ``positions[i]`` is its index in ``cached_ids`` (meaningful where ``mask``)
    """
    if len(cached_ids) == 0 or len(ids) == 0:
        return np.zeros(len(ids), dtype=bool), np.zeros(len(ids), dtype=np.int64)
    positions = np.searchsorted(cached_ids, ids)
    clipped = np.minimum(positions, len(cached_ids) - 1)
    mask = (cached_ids[clipped] == ids) & (cached_digests[clipped] == digests)
    return mask, clipped


def sorted_membership(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Boolean mask: which ``values`` occur in ``sorted_set`` (ascending)."""
    if len(sorted_set) == 0:
        return np.zeros(len(values), dtype=bool)
    positions = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    found: np.ndarray = sorted_set[positions] == values
    return found


# ------------------------------------------------------------------------------ storage


@dataclass
class CachedRole:
    """One readable cache generation: contacts sorted by id, and where their hashes are."""

    folder: StoragePath
    generation: str
    contact_ids: np.ndarray
    digests: np.ndarray
    outcomes: dict[str, np.ndarray]

    def members(self, keep_ids: np.ndarray, batch_size: int = 250_000) -> Iterator[pa.Table]:
        """The cached member rows of the contacts in ``keep_ids``, in batches."""
        keep = np.sort(np.asarray(keep_ids, dtype=np.int64))
        with (self.folder / f"{self.generation}-members.parquet").open("rb") as handle:
            for batch in pq.ParquetFile(handle, pre_buffer=False).iter_batches(batch_size=batch_size):
                table = pa.Table.from_batches([batch]).cast(MEMBER_SCHEMA)
                mask = sorted_membership(table.column("contact_id").to_numpy(), keep)
                if mask.any():
                    yield table.filter(pa.array(mask))


def load(folder: StoragePath, key: dict[str, Any]) -> CachedRole | None:
    """The current generation in ``folder`` if it was written under ``key``; None otherwise."""
    manifest_path = folder / MANIFEST
    try:
        if not manifest_path.exists():
            return None
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("key") != key:
            log.info("Identifier cache %s was computed under other rules; every contact is hashed again", folder)
            return None
        generation = str(manifest["generation"])
        with (folder / f"{generation}-contacts.parquet").open("rb") as handle:
            table = pq.read_table(handle)
        ids = table.column("contact_id").to_numpy()
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        if len(ids) > 1 and not (np.diff(ids) > 0).all():
            raise ValueError("duplicate contact ids")
        digests = table.column("digest").to_numpy()[order]
        outcomes = {t: table.column(f"outcome_{t}").to_numpy()[order] for t in key["identifiers"]}
        if not (folder / f"{generation}-members.parquet").exists():
            raise FileNotFoundError("members file missing")
        return CachedRole(folder, generation, ids, digests, outcomes)
    except Exception as err:  # noqa: BLE001 - an unreadable cache only costs a full hash
        log.warning("Identifier cache %s is not readable (%s); every contact is hashed again", folder,
                    type(err).__name__)
        return None


class CacheWriter:
    """Writes the next generation of a cache as the run produces it; :meth:`commit` makes it current.

    :param folder: the cache folder
    :param key: :func:`cache_key` of this run
    :param keep: a generation not to delete on commit (the one this run is reading)
    """

    def __init__(self, folder: StoragePath, key: dict[str, Any], keep: str | None = None) -> None:
        self.folder = folder
        self.key = key
        self.keep = keep
        self.id_types = list(key["identifiers"])
        self.schema = contact_schema(self.id_types)
        self.generation = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        self.contacts = 0
        folder.mkdir(parents=True, exist_ok=True)
        self._handles: list[IO[bytes]] = []
        self._contacts = self._open("contacts", self.schema)
        self._members = self._open("members", MEMBER_SCHEMA)

    def _open(self, name: str, schema: pa.Schema) -> pq.ParquetWriter:
        handle = (self.folder / f"{self.generation}-{name}.parquet").open("wb")
        self._handles.append(handle)
        return pq.ParquetWriter(handle, schema)

    def add_contacts(self, ids: np.ndarray, digests: np.ndarray, outcomes: dict[str, np.ndarray]) -> None:
        if len(ids) == 0:
            return
        columns = [pa.array(np.asarray(ids, dtype=np.int64)), pa.array(np.asarray(digests, dtype=np.int64))]
        columns += [pa.array(np.asarray(outcomes[t], dtype=np.int8)) for t in self.id_types]
        self._contacts.write_table(pa.Table.from_arrays(columns, schema=self.schema))
        self.contacts += len(ids)

    def add_members(self, members: pa.Table) -> None:
        if len(members) == 0:
            return
        self._members.write_table(members.cast(MEMBER_SCHEMA))

    def _close(self) -> None:
        for writer in (self._contacts, self._members):
            writer.close()
        for handle in self._handles:
            handle.close()

    def commit(self) -> None:
        """Make this generation current and delete older ones (except ``keep``)."""
        self._close()
        now = datetime.now(UTC)
        retired = _retired_generations(self.folder, now)
        manifest = {"key": self.key, "generation": self.generation, "contacts": self.contacts,
                    "written_at": now.isoformat(), "retired": retired}
        # Written after both files are complete: a torn manifest is unreadable JSON, so ignored.
        (self.folder / MANIFEST).write_text(json.dumps(manifest, sort_keys=True))
        kept = {self.generation, *retired, *([self.keep] if self.keep else [])}
        for path in self.folder.iterdir():
            name = path.name
            if name == MANIFEST or any(name.startswith(f"{generation}-") for generation in kept):
                continue
            try:
                path.unlink()
            except OSError:  # pragma: no cover - a concurrent run removed it first
                pass

    def abort(self) -> None:
        """Drop this generation's files; the previous generation stays current."""
        try:
            self._close()
        except Exception:  # noqa: BLE001 - closing a broken writer
            pass
        for name in ("contacts", "members"):
            path = self.folder / f"{self.generation}-{name}.parquet"
            try:
                if path.exists():
                    path.unlink()
            except OSError:  # pragma: no cover
                pass


def _retired_generations(folder: StoragePath, now: datetime) -> dict[str, str]:
    """The generations replaced within :data:`RETIRED_GRACE`, the current one included (it is being replaced)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except Exception:  # noqa: BLE001 - no or unreadable manifest: nothing was current
        return {}
    retired: dict[str, str] = {}
    for generation, since in dict(manifest.get("retired") or {}).items():
        try:
            if now - datetime.fromisoformat(since) < RETIRED_GRACE:
                retired[str(generation)] = since
        except (TypeError, ValueError):
            continue
    if manifest.get("generation"):
        retired[str(manifest["generation"])] = now.isoformat()
    return retired
