"""The typed audience definitions, and the problems an audience file can have.

Everything here is a frozen dataclass of plain values (str, int, bool, None, tuples, JSON-like
mappings): Airflow deep-copies operator arguments, so a definition handed to an operator must
survive ``copy.deepcopy`` (and ``pickle``) unchanged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_INTEGRATION = "tiktok_default"
DEFAULT_SCHEDULE = "@daily"
MAX_NAME_LENGTH = 128  # TikTok's limit for custom_audience_name
DAG_ID_PREFIX = "tiktok_audience__"
# Kept here (not imported from identifiers) so that DAG parsing never imports pandas.
ID_TYPES: tuple[str, ...] = ("email", "phone", "maid")
#: Ways to send an audience (see tiktok_audiences.tiktok.partner, kept here so parsing stays light).
AUDIENCE_APIS: tuple[str, ...] = ("customer_file", "partner")

#: ``problem(field, message, fix)``: how the validators report a problem of the document they read.
Problem = Callable[[str | None, str, str], None]


@dataclass(frozen=True)
class DefinitionProblem:
    """One thing wrong with one audience file, phrased for the person who has to fix it."""

    path: str
    field: str | None
    message: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.path}: field '{self.field}'" if self.field else self.path
        return f"{where}: {self.message}. Fix: {self.fix}"


class AudienceDefinitionError(ValueError):
    """Raised when one or more audience files are invalid; ``str()`` lists every problem."""

    def __init__(self, problems: Sequence[DefinitionProblem]):
        self.problems = list(problems)
        lines = [f"{len(self.problems)} problem(s) in TikTok audience definitions:"]
        lines += [f"  - {problem}" for problem in self.problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class LookalikeDefinition:
    """The optional ``lookalike:`` block: a TikTok lookalike audience seeded by this audience.

    :param name: name of the lookalike on TikTok (default: the audience's name + " (lookalike)")
    :param location_ids: TikTok location ids the lookalike is built in (at least one)
    :param audience_size: NARROW, BALANCED or BROAD
    :param include_source: whether the lookalike also holds the source audience's members
    :param mobile_os: ALL, ANDROID or IOS
    :param placements: apps the lookalike is for (TikTok, TopBuzz & BuzzVideo, Pangle)
    """

    name: str
    location_ids: tuple[str, ...]
    audience_size: str = "BALANCED"
    include_source: bool = False
    mobile_os: str = "ALL"
    placements: tuple[str, ...] = ("TikTok",)

    def spec(self) -> dict[str, Any]:
        """What TikTok builds the lookalike from, without the source audience (its id changes)."""
        return {
            "audience_size": self.audience_size,
            "include_source": self.include_source,
            "location_ids": list(self.location_ids),
            "mobile_os": self.mobile_os,
            "placements": list(self.placements),
        }

    def tiktok_spec(self, source_audience_id: str) -> dict[str, Any]:
        """TikTok's ``lookalike_spec`` for a create."""
        return {"source_audience_id": str(source_audience_id), **self.spec()}

    def spec_hash(self) -> str:
        return lookalike_spec_hash(self.spec())

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.spec()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LookalikeDefinition:
        """Back from :meth:`as_dict` (the operator receives the definition as a dict)."""
        return cls(
            name=str(data["name"]),
            location_ids=tuple(str(x) for x in data["location_ids"]),
            audience_size=str(data.get("audience_size", "BALANCED")),
            include_source=bool(data.get("include_source", False)),
            mobile_os=str(data.get("mobile_os", "ALL")),
            placements=tuple(str(x) for x in data.get("placements") or ("TikTok",)),
        )


def lookalike_spec_hash(spec: Mapping[str, Any]) -> str:
    """A stable fingerprint of a lookalike spec: a changed hash means the lookalike must be rebuilt."""
    canonical = {
        "audience_size": str(spec.get("audience_size")),
        "include_source": bool(spec.get("include_source")),
        "location_ids": sorted(str(x) for x in spec.get("location_ids") or ()),
        "mobile_os": str(spec.get("mobile_os")),
        "placements": sorted(str(x) for x in spec.get("placements") or ()),
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class AudienceDefinition:
    """A validated audience: include segments minus exclude segments, sent to one integration.

    :param key: the file stem; stable identity of the audience (dag_id and metadata key derive from it)
    :param path: the file the definition comes from
    :param name: audience name, shown in TikTok and on the audiences page
    :param include_segments: segment ids whose members are in the audience (union)
    :param exclude_segments: segment ids whose members are never in the audience
    :param integration: Airflow connection id of the TikTok integration
    :param identifiers: which identifiers to send: any of ``email``, ``phone``, ``maid``
    :param schedule: cron expression or preset
    :param alerts: the ``alerts:`` block, validated and normalized by
        :func:`tiktok_audiences.definitions.alerts.parse_alerts`
    :param api: ``customer_file`` or ``partner``; None = the integration's choice (default customer_file)
    :param normalization: the ``normalization:`` options the file sets, as sorted ``(option, value)``
        pairs (the rest are the API's defaults,
        see :meth:`tiktok_audiences.members.identifier_types.Normalization.from_settings`)
    :param retention_in_days: sent on create: the audience expires this many days after creation (1–365)
    :param audience_enhancement: sent on create when set (TikTok's ``audience_enhancement``, default false)
    """

    key: str
    path: str
    name: str
    include_segments: tuple[int, ...]
    exclude_segments: tuple[int, ...] = ()
    integration: str = DEFAULT_INTEGRATION
    identifiers: tuple[str, ...] = ID_TYPES
    schedule: str | None = DEFAULT_SCHEDULE
    description: str = ""
    pool: str | None = None
    alerts: Mapping[str, Any] = field(default_factory=dict, compare=False)
    lookalike: LookalikeDefinition | None = None
    api: str | None = None
    normalization: tuple[tuple[str, str], ...] = ()
    retention_in_days: int | None = None
    audience_enhancement: bool | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def dag_id(self) -> str:
        return f"{DAG_ID_PREFIX}{self.key}"

    @property
    def segment_ids(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.include_segments) | set(self.exclude_segments)))

    def as_dict(self) -> dict[str, Any]:
        """The definition as stored in the metadata table and shown on the audiences page."""
        return {
            "key": self.key,
            "path": self.path,
            "name": self.name,
            "include_segments": list(self.include_segments),
            "exclude_segments": list(self.exclude_segments),
            "integration": self.integration,
            "identifiers": list(self.identifiers),
            "schedule": self.schedule,
            "description": self.description,
            "pool": self.pool,
            "alerts": dict(self.alerts),
            "lookalike": self.lookalike.as_dict() if self.lookalike else None,
            "api": self.api,
            "normalization": dict(self.normalization),
            "retention_in_days": self.retention_in_days,
            "audience_enhancement": self.audience_enhancement,
        }
