"""Customer files: TikTok's encryption types, the file an upload carries, and the REPLACE refusal.

Sources: TikTok's spec files in tiktok/tiktok-business-api-sdk (`yml_files/dmp_custom_audience_file_upload.yml`,
`dmp_custom_audience_create.yml`, `dmp_custom_audience_update.yml`) and TikTok Ads help "List of supported
IDs and formats for a customer file" (a header row naming each column's ID type).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tiktok_audiences.tiktok.errors import (
    TikTokAudienceNotFound,
    TikTokAuthError,
    TikTokPartnerAccessError,
    TikTokRetryableError,
)

if TYPE_CHECKING:
    import pandas as pd

#: TikTok recommends fewer than 50 file paths per create/update and accepts at most 500
#: (`file_paths` of dmp_custom_audience_create.yml / dmp_custom_audience_update.yml).
MAX_FILE_PATHS = 50


def calculate_type_for(id_types: Sequence[str]) -> str:
    """TikTok's encryption type for an audience sending these identifier types."""
    from tiktok_audiences.members.identifier_types import TIKTOK_CALCULATE_TYPE

    if len(id_types) == 1:
        return TIKTOK_CALCULATE_TYPE[id_types[0]]
    return "MULTIPLE_TYPES"


def customer_file(identifiers: pd.DataFrame, id_types: Sequence[str]) -> bytes:
    """A customer file: a header row naming each column's ID type, then one identifier per row.

    With one identifier type the file has one column; with several (``MULTIPLE_TYPES``) it has one
    column per type and each row fills only the column of its identifier.
    """
    from tiktok_audiences.members.identifier_types import TIKTOK_ID_COLUMN

    columns = list(id_types)
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


def is_replace_limit(error: Exception) -> bool:
    """TikTok's refusal of a second REPLACE while one is unfinished (about one per audience per day).

    TikTok documents the message ("an unfinished replace operation … no more than once per day"),
    not the code, so any permanent refusal whose message speaks of replacing counts.
    """
    if isinstance(error, (TikTokRetryableError, TikTokAuthError, TikTokAudienceNotFound, TikTokPartnerAccessError)):
        return False
    return getattr(error, "code", None) is not None and "replace" in str(getattr(error, "tiktok_message", "")).lower()
