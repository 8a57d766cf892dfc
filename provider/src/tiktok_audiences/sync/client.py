"""What the engine needs from a TikTok client: the methods of :class:`~tiktok_audiences.hooks.tiktok.TikTokHook`.

A Protocol, so the engine can be driven by the Airflow hook in a task and by any object with the
same methods in a test, without importing Airflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol


class IntegrationSettings(Protocol):
    """The integration's connection settings the engine reads."""

    @property
    def api(self) -> str | None: ...


class TikTokClient(Protocol):
    """TikTok's Marketing API, one method per operation the sync uses."""

    @property
    def advertiser_id(self) -> str: ...

    @property
    def integration(self) -> IntegrationSettings: ...

    def upload_file(self, content: bytes, *, calculate_type: str, file_name: str) -> str: ...

    def create_audience(self, name: str, *, calculate_type: str, file_paths: Sequence[str],
                        retention_in_days: int | None = None, audience_enhancement: bool | None = None) -> str: ...

    def update_audience(self, audience_id: str, *, file_paths: Sequence[str], action: str) -> Any: ...

    def get_audience(self, audience_id: str) -> dict[str, Any]: ...

    def list_audiences(self) -> Iterable[Mapping[str, Any]]: ...

    def create_partner_audience(self, name: str) -> str: ...

    def map_members(self, *, action: str, id_schema: Sequence[str], batch_data: Sequence[Any]) -> int: ...

    def create_lookalike(self, name: str, *, lookalike_spec: Mapping[str, Any]) -> str: ...

    def rename_audience(self, audience_id: str, name: str) -> Any: ...

    def refresh_lookalikes(self, audience_ids: Sequence[str]) -> Any: ...
