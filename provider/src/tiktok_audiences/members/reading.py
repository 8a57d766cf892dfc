"""Read an audience's segment members, hash them and write them to the run's staging folder.

The extract task's pipeline: for each role (include, exclude) the segments' contacts are read from
the contact database (:mod:`.segments`) in chunks, normalized and SHA-256 hashed in memory at once
(:mod:`.hashing`) and streamed into a member file of the run's staging folder (:mod:`.staging`).
With an identifier cache (:mod:`.identifier_cache`) only new and changed contacts are read in full
and hashed; the result is the same as hashing every contact (tested).

Raw identifiers exist only in this process's memory: only hashes, contact ids and counts are
written. No Airflow import: the folders are ``pathlib.Path`` or ``ObjectStoragePath`` objects.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy.engine import Connection, Engine

from tiktok_audiences.members.hashing import hash_members, outcome_counts
from tiktok_audiences.members.identifier_cache import (
    CachedRole,
    CacheWriter,
    audience_folder,
    cache_key,
    load,
    unchanged_contacts,
)
from tiktok_audiences.members.identifier_types import DEFAULT_NORMALIZATION, Normalization
from tiktok_audiences.members.membership import MemberKeys
from tiktok_audiences.members.segments import (
    DIGEST_COLUMN,
    Segment,
    contact_digests,
    digest_kind,
    iter_contacts,
    resolve_segments,
    segment_contacts_by_ids,
    static_members,
)
from tiktok_audiences.members.sql import SqlTemplates, read_only
from tiktok_audiences.members.staging import MEMBER_SCHEMA, STATIC_MEMBER_SCHEMA, StoragePath, write_frames

__all__ = ["ROLES", "RoleStats", "StagedMembers", "role_members", "stage_members"]

ROLES = ("include", "exclude")
#: Above this share of new or changed contacts, streaming everything beats fetching them by id.
FULL_READ_SHARE = 0.5


@dataclass
class RoleStats:
    """What happened while reading one role's contacts (counts only, never identifiers)."""

    contacts: int = 0
    reused: int = 0
    hashed: int = 0
    cache: str = "off"  # off | cold (nothing usable) | warm (hashes reused) | refreshed (too many changes)
    invalid: Counter[str] = field(default_factory=Counter)
    missing: Counter[str] = field(default_factory=Counter)
    timings: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def count(self, outcomes: dict[str, np.ndarray], contacts: int) -> None:
        invalid, missing = outcome_counts(outcomes)
        self.invalid.update(invalid)
        self.missing.update(missing)
        self.contacts += contacts


@dataclass
class StagedMembers:
    """What :func:`stage_members` read and wrote (counts only, never identifiers).

    ``invalid`` and ``missing`` count the include side only: exclude rows are never sent, so their
    problems are not the user's to fix.
    """

    segments: list[Segment] = field(default_factory=list)
    contacts: Counter[str] = field(default_factory=Counter)
    rows: dict[str, int] = field(default_factory=dict)
    invalid: Counter[str] = field(default_factory=Counter)
    missing: Counter[str] = field(default_factory=Counter)
    timings: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    cache: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def deleted_segments(self) -> list[int]:
        return sorted(s.segment_id for s in self.segments if s.deleted)

    def add(self, role: str, stats: RoleStats, rows: int) -> None:
        self.contacts[role] += stats.contacts
        self.rows[role] = rows
        if role == "include":
            self.invalid.update(stats.invalid)
            self.missing.update(stats.missing)
        for stage, seconds in stats.timings.items():
            self.timings[stage] += seconds
        self.cache[role] = {"state": stats.cache, "reused": stats.reused, "hashed": stats.hashed}


def stage_members(
    contacts: Engine,
    sql: SqlTemplates,
    folder: StoragePath,
    *,
    audience_key: str,
    include_segments: Sequence[int],
    exclude_segments: Sequence[int],
    id_types: Sequence[str],
    snapshot: Mapping[int, Mapping[str, Any]],
    remembered_members: Mapping[int, Sequence[int]],
    cache_url: str | None,
    chunk_size: int = 100_000,
    normalization: Normalization = DEFAULT_NORMALIZATION,
) -> StagedMembers:
    """Write an audience's hashed members to ``folder``, in one read-only transaction.

    Files: ``include.parquet`` and ``exclude.parquet`` (:data:`.staging.MEMBER_SCHEMA`),
    ``static_members.parquet`` (the static segments' members, remembered for a later deletion) and
    ``segments.json`` (the segments as this run saw them).

    :param contacts: engine of the contact database
    :param snapshot: segment definitions remembered from the last good run (by segment id)
    :param remembered_members: static-segment members remembered from the last good run
    :param cache_url: base of the identifier cache (:func:`.identifier_cache.cache_base_url`), None for none
    :raises SegmentError: a segment does not exist or its criteria are refused
    """
    staged = StagedMembers()
    roles = {"include": include_segments, "exclude": exclude_segments}
    with read_only(contacts) as conn:
        segments = resolve_segments(conn, sql, [*include_segments, *exclude_segments], snapshot, remembered_members)
        for role in ROLES:
            stats = RoleStats()
            cache_folder = audience_folder(cache_url, audience_key, role) if cache_url else None
            frames = role_members(conn, sql, [segments[s] for s in roles[role]], id_types, cache_folder,
                                  chunk_size=chunk_size, stats=stats, normalization=normalization)
            staged.add(role, stats, write_frames(folder / f"{role}.parquet", frames, MEMBER_SCHEMA))
        started = time.perf_counter()
        static = static_members(conn, sql, list(segments.values()))
        staged.timings["extract"] += time.perf_counter() - started
    write_frames(folder / "static_members.parquet", [static], STATIC_MEMBER_SCHEMA)
    staged.segments = list(segments.values())
    (folder / "segments.json").write_text(
        json.dumps(
            [
                {"segment_id": s.segment_id, "name": s.name, "criteria": s.criteria, "deleted": s.deleted}
                for s in staged.segments
            ]
        )
    )
    return staged


def role_members(
    conn: Connection,
    sql: SqlTemplates,
    segments: Sequence[Segment],
    id_types: Sequence[str],
    folder: StoragePath | None,
    *,
    chunk_size: int = 100_000,
    stats: RoleStats | None = None,
    normalization: Normalization = DEFAULT_NORMALIZATION,
) -> Iterator[pa.Table]:
    """The hashed member rows (``contact_id``, ``key``: see :data:`.staging.MEMBER_SCHEMA`) of the segments' contacts.

    With a usable cache in ``folder`` only new and changed contacts are read in full and hashed;
    the result is the same as hashing every contact (tested). The next cache generation is written
    as the rows are produced and made current once the last row was produced.

    :param folder: the role's cache folder, or None to hash every contact and keep no cache
    :param stats: filled with counts and timings (``extract``: reading, ``normalize_hash``: hashing)
    :param normalization: the audience's options (:meth:`.identifier_types.Normalization.from_settings`)
    """
    stats = stats if stats is not None else RoleStats()
    id_types = list(id_types)
    writer: CacheWriter | None = None
    cached: CachedRole | None = None
    # The digests of remembered members (of deleted static segments) are not read: no cache then.
    if folder is not None and all(s.remembered_members is None for s in segments):
        started = time.perf_counter()
        key = cache_key(id_types, digest_kind(conn), normalization)
        cached = load(folder, key)
        writer = CacheWriter(folder, key, keep=cached.generation if cached else None)
        stats.cache = "warm" if cached else "cold"
        stats.timings["extract"] += time.perf_counter() - started
    try:
        if writer is not None and cached is not None:
            produced = _from_cache(conn, sql, segments, id_types, cached, writer, stats, normalization)
            if produced is not None:
                yield from produced
                _commit(writer, stats)
                return
            stats.cache = "refreshed"
        chunks = iter_contacts(conn, sql, segments, chunk_size=chunk_size, with_digest=writer is not None)
        yield from _hash_chunks(chunks, id_types, writer, stats, normalization)
        if writer is not None:
            _commit(writer, stats)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise


def _commit(writer: CacheWriter, stats: RoleStats) -> None:
    started = time.perf_counter()
    writer.commit()
    stats.timings["extract"] += time.perf_counter() - started


def _hash_chunks(chunks: Iterator[pd.DataFrame], id_types: Sequence[str], writer: CacheWriter | None,
                 stats: RoleStats, normalization: Normalization) -> Iterator[pa.Table]:
    """Hash raw contact chunks as they are read; reading counts as extract time, hashing as its own."""
    while True:
        started = time.perf_counter()
        raw = next(chunks, None)
        stats.timings["extract"] += time.perf_counter() - started
        if raw is None:
            return
        yield _hash_chunk(raw, id_types, writer, stats, normalization)


def _hash_chunk(raw: pd.DataFrame, id_types: Sequence[str], writer: CacheWriter | None, stats: RoleStats,
                normalization: Normalization) -> pa.Table:
    started = time.perf_counter()
    result = hash_members(raw, id_types, normalization)
    members = MemberKeys.from_frame(result.members).table()
    stats.count(result.outcomes, len(raw))
    stats.hashed += len(raw)
    if writer is not None:
        writer.add_contacts(raw["contact_id"].to_numpy(dtype=np.int64),
                            raw[DIGEST_COLUMN].to_numpy(dtype=np.int64), result.outcomes)
        writer.add_members(members)
    stats.timings["normalize_hash"] += time.perf_counter() - started
    return members


def _from_cache(conn: Connection, sql: SqlTemplates, segments: Sequence[Segment], id_types: Sequence[str],
                cached: CachedRole, writer: CacheWriter, stats: RoleStats,
                normalization: Normalization) -> Iterator[pa.Table] | None:
    """Reuse cached hashes; None when too many contacts changed for that to pay off."""
    started = time.perf_counter()
    ids, digests = contact_digests(conn, sql, segments)
    stats.timings["extract"] += time.perf_counter() - started
    # (A segment query that returns a contact twice still works: each row is looked up; the cache
    # written from it is refused when loaded, so the next run hashes everything again.)
    mask, positions = unchanged_contacts(ids, digests, cached.contact_ids, cached.digests)
    changed = ids[~mask]
    if len(ids) and len(changed) > FULL_READ_SHARE * len(ids):
        return None

    def produce() -> Iterator[pa.Table]:
        started = time.perf_counter()
        reused_ids = ids[mask]
        outcomes = {t: cached.outcomes[t][positions[mask]] for t in id_types}
        writer.add_contacts(reused_ids, digests[mask], outcomes)
        stats.count(outcomes, len(reused_ids))
        stats.reused += len(reused_ids)
        members = cached.members(reused_ids)
        while True:
            table = next(members, None)
            if table is None:
                break
            writer.add_members(table)
            stats.timings["extract"] += time.perf_counter() - started
            yield table
            started = time.perf_counter()
        stats.timings["extract"] += time.perf_counter() - started
        yield from _hash_chunks(segment_contacts_by_ids(conn, sql, segments, changed), id_types, writer,
                                stats, normalization)

    return produce()
