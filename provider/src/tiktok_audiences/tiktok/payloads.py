"""The bodies and query parameters of the TikTok requests the client sends.

One function per request, named after it; field names are TikTok's, from the spec of each endpoint
(tiktok/tiktok-business-api-sdk ``yml_files/dmp_custom_audience_<operation>.yml``; the OAuth ones:
the same repository's ``python_sdk/business_api_client/api/authentication_api.py``). The ``/segment/``
endpoints have no TikTok spec file: their fields follow bububa/tiktok-business
``model/dmp/segment_audience.go`` and ``model/dmp/segment_mapping.go``. IDs are sent as strings:
TikTok's ids are int64 and some exceed 2**53 (the yml's ``advertiser_id``: ``type: string``,
``x-open-convert: int64(%s)``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

#: Most audience ids one get or delete takes (``custom_audience_ids``: ``maxItems: 100`` in
#: yml_files/dmp_custom_audience_get.yml and dmp_custom_audience_delete.yml).
MAX_AUDIENCE_IDS = 100
#: ``action`` of ``/dmp/custom_audience/update/`` with files (yml_files/dmp_custom_audience_update.yml).
UPDATE_ACTIONS = ("APPEND", "REMOVE", "REPLACE")
#: ``action`` of ``/segment/mapping/``.
MAPPING_ACTIONS = ("add", "delete")


def id_chunks(audience_ids: Sequence[str]) -> Iterator[list[str]]:
    """The ids as strings, in slices of at most :data:`MAX_AUDIENCE_IDS`."""
    for start in range(0, len(audience_ids), MAX_AUDIENCE_IDS):
        yield [str(i) for i in audience_ids[start : start + MAX_AUDIENCE_IDS]]


def file_upload_form(advertiser_id: str, *, content: bytes, calculate_type: str) -> dict[str, Any]:
    """Form fields of ``/dmp/custom_audience/file/upload/``; ``file_signature`` is the file's MD5."""
    return {
        "advertiser_id": advertiser_id,
        "calculate_type": calculate_type,
        "file_signature": hashlib.md5(content, usedforsecurity=False).hexdigest(),
    }


def create_audience_body(
    advertiser_id: str,
    *,
    name: str,
    calculate_type: str,
    file_paths: Sequence[str],
    retention_in_days: int | None = None,
    audience_enhancement: bool | None = None,
) -> dict[str, Any]:
    """``/dmp/custom_audience/create/``; the two options are sent only when set, so TikTok's defaults apply."""
    body: dict[str, Any] = {
        "advertiser_id": advertiser_id,
        "custom_audience_name": name,
        "calculate_type": calculate_type,
        "file_paths": list(file_paths),
    }
    if retention_in_days is not None:
        body["retention_in_days"] = int(retention_in_days)
    if audience_enhancement is not None:
        body["audience_enhancement"] = bool(audience_enhancement)
    return body


def update_audience_body(
    advertiser_id: str, audience_id: str, *, file_paths: Sequence[str], action: str
) -> dict[str, Any]:
    """``/dmp/custom_audience/update/`` with files: one of :data:`UPDATE_ACTIONS`."""
    return {
        "advertiser_id": advertiser_id,
        "custom_audience_id": audience_id,
        "file_paths": list(file_paths),
        "action": action,
    }


def rename_audience_body(advertiser_id: str, audience_id: str, name: str) -> dict[str, Any]:
    """``/dmp/custom_audience/update/`` with a new ``custom_audience_name`` only."""
    return {"advertiser_id": advertiser_id, "custom_audience_id": audience_id, "custom_audience_name": name}


def get_audiences_params(advertiser_id: str, audience_ids: list[str]) -> dict[str, Any]:
    """``/dmp/custom_audience/get/``: the ids as a JSON array in the query, the last history entry only."""
    return {"advertiser_id": advertiser_id, "custom_audience_ids": json.dumps(audience_ids), "history_size": 1}


def list_audiences_params(advertiser_id: str, *, page: int, page_size: int) -> dict[str, Any]:
    """``/dmp/custom_audience/list/``, one page (``page`` counts from 1)."""
    return {"advertiser_id": advertiser_id, "page": page, "page_size": page_size}


def delete_audiences_body(advertiser_id: str, audience_ids: list[str]) -> dict[str, Any]:
    """``/dmp/custom_audience/delete/`` of at most :data:`MAX_AUDIENCE_IDS` ids."""
    return {"advertiser_id": advertiser_id, "custom_audience_ids": audience_ids}


def create_lookalike_body(advertiser_id: str, *, name: str, lookalike_spec: dict[str, Any]) -> dict[str, Any]:
    """``/dmp/custom_audience/lookalike/create/`` (yml_files/dmp_custom_audience_lookalike_create.yml)."""
    return {"advertiser_id": advertiser_id, "custom_audience_name": name, "lookalike_spec": dict(lookalike_spec)}


def refresh_lookalikes_body(advertiser_id: str, audience_ids: Sequence[str]) -> dict[str, Any]:
    """``/dmp/custom_audience/lookalike/update/`` (yml_files/dmp_custom_audience_lookalike_update.yml)."""
    return {"advertiser_id": advertiser_id, "custom_audience_ids": [str(i) for i in audience_ids]}


def create_partner_audience_body(advertiser_id: str, name: str) -> dict[str, Any]:
    """``/segment/audience/`` with ``action`` create."""
    return {"advertiser_id": advertiser_id, "action": "create", "custom_audience_name": name}


def delete_partner_audience_body(advertiser_id: str, audience_id: str) -> dict[str, Any]:
    """``/segment/audience/`` with ``action`` delete."""
    return {"advertiser_id": advertiser_id, "action": "delete", "delete_audience_id": str(audience_id)}


def mapping_body(
    advertiser_id: str, *, action: str, id_schema: Sequence[str], batch_data: list[list[dict[str, Any]]]
) -> dict[str, Any]:
    """``/segment/mapping/``: one of :data:`MAPPING_ACTIONS` for the users of ``batch_data``."""
    return {
        "advertiser_ids": [advertiser_id],
        "action": action,
        "id_schema": list(id_schema),
        "batch_data": batch_data,
    }


def body_size(body: dict[str, Any]) -> int:
    """Characters of the body as compact JSON."""
    return len(json.dumps(body, separators=(",", ":")))


def access_token_body(*, app_id: str, secret: str, auth_code: str) -> dict[str, Any]:
    """``/oauth2/access_token/``: an advertiser's ``auth_code`` for a long-term token."""
    return {"app_id": app_id, "secret": secret, "auth_code": auth_code}


def authorized_advertisers_params(*, app_id: str, secret: str) -> dict[str, Any]:
    """``/oauth2/advertiser/get/``."""
    return {"app_id": app_id, "secret": secret}
