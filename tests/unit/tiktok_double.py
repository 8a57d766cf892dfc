"""An in-memory TikTok for the engine's tests without Airflow: the operations the sync calls.

It keeps each audience's member set as TikTok would after each accepted request, so a test can
compare TikTok's members with the expected hashed set. Not a replacement for the sandbox (which
checks every request against TikTok's published spec, over HTTP, with the real hook); it exists so
the engine's decisions are tested without importing Airflow. Faults are injected per operation.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tiktok_audiences.members.identifier_types import TIKTOK_ID_COLUMN
from tiktok_audiences.tiktok.errors import TikTokRetryableError
from tiktok_audiences.tiktok.partner import ID_SCHEMA

_TYPE_OF_COLUMN = {column: id_type for id_type, column in TIKTOK_ID_COLUMN.items()}
_TYPE_OF_SCHEMA = {schema: id_type for id_type, schema in ID_SCHEMA.items()}


@dataclass
class Integration:
    api: str | None = None


@dataclass
class Audience:
    audience_id: str
    name: str
    kind: str
    members: set[tuple[str, str]] = field(default_factory=set)
    create_time: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"))


def retryable(endpoint: str) -> TikTokRetryableError:
    return TikTokRetryableError(code=50000, message="Internal error", request_id="req-fault", endpoint=endpoint)


class TikTokDouble:
    """TikTok's custom-audience operations over in-memory sets; ``calls`` lists what was asked, in order."""

    advertiser_id = "7000000000000000001"

    def __init__(self, api: str | None = None) -> None:
        self.integration = Integration(api)
        self.audiences: dict[str, Audience] = {}
        self.files: dict[str, set[tuple[str, str]]] = {}
        self.calls: list[str] = []
        #: operation name -> callable run after TikTok applied the request (e.g. raise: the answer is lost)
        self.after: dict[str, Callable[[], None]] = {}
        self._ids = itertools.count(7300000000000000001)

    # -- what a test reads --------------------------------------------------------------------

    def members(self) -> set[tuple[str, str]]:
        (audience,) = self.audiences.values()
        return audience.members

    def _done(self, operation: str) -> None:
        self.calls.append(operation)
        fault = self.after.pop(operation, None)
        if fault is not None:
            fault()

    # -- the operations -----------------------------------------------------------------------

    def upload_file(self, content: bytes, *, calculate_type: str, file_name: str) -> str:
        rows = list(csv.reader(io.StringIO(content.decode("ascii"))))
        types = [_TYPE_OF_COLUMN[column] for column in rows[0]]
        path = f"file-{len(self.files)}"
        self.files[path] = {(types[i], value) for row in rows[1:] for i, value in enumerate(row) if value}
        self._done("upload")
        return path

    def create_audience(self, name: str, *, calculate_type: str, file_paths: Sequence[str],
                        retention_in_days: int | None = None, audience_enhancement: bool | None = None) -> str:
        audience = Audience(str(next(self._ids)), name, "Customer File Audience")
        audience.members = set().union(*(self.files[p] for p in file_paths))
        self.audiences[audience.audience_id] = audience
        self._done("create")
        return audience.audience_id

    def update_audience(self, audience_id: str, *, file_paths: Sequence[str], action: str) -> None:
        audience = self.audiences[audience_id]
        sent = set().union(*(self.files[p] for p in file_paths))
        if action == "APPEND":
            audience.members |= sent
        elif action == "REMOVE":
            audience.members -= sent
        else:
            audience.members = sent
        self._done(action)

    def get_audience(self, audience_id: str) -> dict[str, Any]:
        audience = self.audiences[audience_id]
        return {"audience_id": audience_id, "name": audience.name, "type": audience.kind,
                "cover_num": len(audience.members), "is_valid": True}

    def list_audiences(self) -> Iterator[dict[str, Any]]:
        for audience in self.audiences.values():
            yield {"audience_id": audience.audience_id, "name": audience.name, "audience_type": audience.kind,
                   "create_time": audience.create_time}

    def create_partner_audience(self, name: str) -> str:
        audience = Audience(str(next(self._ids)), name, "Partner")
        self.audiences[audience.audience_id] = audience
        self._done("create_partner")
        return audience.audience_id

    def map_members(self, *, action: str, id_schema: Sequence[str], batch_data: Sequence[Any]) -> int:
        for user in batch_data:
            for position, entry in enumerate(user):
                if entry:
                    for audience_id in entry["audience_ids"]:
                        member = (_TYPE_OF_SCHEMA[id_schema[position]], entry["id"])
                        members = self.audiences[audience_id].members
                        members.add(member) if action == "add" else members.discard(member)
        self._done(f"map_{action}")
        return len(str(batch_data))

    def create_lookalike(self, name: str, *, lookalike_spec: Any) -> str:
        raise NotImplementedError

    def rename_audience(self, audience_id: str, name: str) -> None:
        raise NotImplementedError

    def refresh_lookalikes(self, audience_ids: Sequence[str]) -> None:
        raise NotImplementedError
