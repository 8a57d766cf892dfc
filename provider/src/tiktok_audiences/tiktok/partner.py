"""The two ways of sending an audience to TikTok, and the payloads of the partner way.

``customer_file``: upload hashed files and create / APPEND / REMOVE / REPLACE with
``/dmp/custom_audience/*`` (tiktok/tiktok-business-api-sdk ``yml_files/dmp_custom_audience_file_upload.yml``,
``_create.yml``, ``_update.yml``). ``partner``: create a Partner audience with ``/segment/audience/`` and
mirror membership with ``/segment/mapping/`` add / delete (no TikTok spec file: bububa/tiktok-business
``model/dmp/segment_audience.go`` and ``model/dmp/segment_mapping.go``; segmentio/action-destinations
``packages/destination-actions/src/destinations/tiktok-audiences/``).

Pure Python (pandas only, no Airflow): the audience file, the integration extra and the operator
share one set of rules, unit-tested without Airflow.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

CUSTOMER_FILE = "customer_file"
PARTNER = "partner"
#: How messages name each API
API_LABELS = {CUSTOMER_FILE: "customer-file API", PARTNER: "partner (Audience Segment) API"}
#: Accepted values of ``api`` (audience file and integration extra).
APIS: tuple[str, ...] = (CUSTOMER_FILE, PARTNER)
#: Used when neither the audience file nor the integration says: it works for every app holding
#: the audience scopes, while partner access may first have to be allowlisted by TikTok (40118).
DEFAULT_API = CUSTOMER_FILE

#: Most users one ``/segment/mapping/`` request may carry: Braze's reading of TikTok's limit ("no more than
#: 50 queries per second and 10k users per request", braze-inc/braze-docs
#: ``_docs/_partners/canvas_audience_sync/tiktok_audience_sync.md``).
MAX_MAPPING_USERS = 10_000
#: TikTok cuts Partner audience names longer than this to 67 characters + "..." (bububa/tiktok-business
#: ``model/dmp/segment_audience.go``, a translation of TikTok's Chinese docs).
PARTNER_NAME_LIMIT = 70

#: ``id_schema`` label of each of our identifier types. A normalized IDFA and a normalized GAID are
#: both lower-case UUIDs and cannot be told apart, so every mobile ad id is labelled IDFA_SHA256, as
#: Segment (a TikTok partner) does (segmentio/action-destinations
#: ``packages/destination-actions/src/destinations/tiktok-audiences/functions.ts``, ``getIDSchema``); see
#: docs/decisions.md.
ID_SCHEMA: dict[str, str] = {"email": "EMAIL_SHA256", "phone": "PHONE_SHA256", "maid": "IDFA_SHA256"}
#: TikTok's ``audience_type`` of an audience made by ``/segment/audience/`` (the get fixture of a fresh
#: Segment-API audience in segmentio/action-destinations
#: ``packages/destination-actions/src/destinations/tiktok-audiences/__tests__/index.test.ts``).
PARTNER_AUDIENCE_TYPE = "Partner"


def resolve_api(audience_api: str | None, integration_api: str | None) -> str:
    """The API an audience is sent with: its own ``api:``, else the integration's, else the default."""
    return audience_api or integration_api or DEFAULT_API


def partner_audience_name(name: str) -> str:
    """The name TikTok stores for a Partner audience (long names are cut as TikTok cuts them).

    The client shortens the name itself, so that what it sends is what TikTok shows and an
    interrupted create can be found again by name.
    """
    if len(name) <= PARTNER_NAME_LIMIT:
        return name
    return name[: PARTNER_NAME_LIMIT - 3] + "..."


def is_api_of(details: Mapping[str, Any], api: str) -> bool:
    """Whether a TikTok audience (list/get item) is of the kind ``api`` creates.

    Reads ``audience_type`` and falls back to ``type`` (get's SDK name); an item carrying neither
    is not ruled out.
    """
    kind = details.get("audience_type") or details.get("type")
    if not kind:
        return True
    is_partner = str(kind).strip().lower() == PARTNER_AUDIENCE_TYPE.lower()
    return is_partner if api == PARTNER else not is_partner


@dataclass(frozen=True)
class MappingBatch:
    """The identifier part of one ``/segment/mapping/`` request.

    :param id_schema: the id types present in the batch, in a fixed order
    :param batch_data: one user per identifier: ``{"id", "audience_ids"}`` in its type's position
        and ``{}`` in every other position (TikTok aligns ids with ``id_schema`` by position)
    """

    id_schema: list[str]
    batch_data: list[list[dict[str, Any]]]

    @property
    def users(self) -> int:
        return len(self.batch_data)


def mapping_batch(audience_id: str, identifiers: pd.DataFrame) -> MappingBatch:
    """Build the ``id_schema`` and ``batch_data`` for ``(id_type, id_hash)`` rows.

    One identifier per user row: the diff works per identifier (a contact's email can change while
    its phone stays), and the frames carry no contact ids.
    """
    types = [t for t in ID_SCHEMA if t in set(identifiers["id_type"].tolist())]
    unknown = set(identifiers["id_type"].tolist()) - set(ID_SCHEMA)
    if unknown:
        raise ValueError(f"unknown identifier type(s) {sorted(unknown)}")
    position = {t: i for i, t in enumerate(types)}
    audience_ids = [str(audience_id)]
    rows: list[list[dict[str, Any]]] = []
    for id_type, id_hash in zip(identifiers["id_type"].tolist(), identifiers["id_hash"].tolist(), strict=True):
        row: list[dict[str, Any]] = [{} for _ in types]
        row[position[id_type]] = {"id": id_hash, "audience_ids": audience_ids}
        rows.append(row)
    return MappingBatch(id_schema=[ID_SCHEMA[t] for t in types], batch_data=rows)


def mapping_batches(identifiers: pd.DataFrame, batch_size: int) -> Iterator[pd.DataFrame]:
    """Slices of at most ``min(batch_size, MAX_MAPPING_USERS)`` identifiers (one user each)."""
    size = max(1, min(int(batch_size), MAX_MAPPING_USERS))
    for start in range(0, len(identifiers), size):
        yield identifiers.iloc[start : start + size]
