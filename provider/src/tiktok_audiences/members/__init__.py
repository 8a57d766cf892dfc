"""The members room: who is in an audience, as the hashed identifiers TikTok matches.

It reads the members of an audience's segments from the contact database, normalizes and SHA-256
hashes their identifiers the way TikTok matches them, stages them as files between the extract
and the sync task, and computes the audience's set algebra (include − exclude, the diff against
what TikTok holds). Raw identifiers exist only in memory: files hold hashes, ids and counts.

- :mod:`.identifier_types`: identifier types, TikTok's names for them, the ``Normalization`` options.
- :mod:`.normalize`: the rules for one value; :mod:`.hashing`: the same rules over a chunk of contacts.
- :mod:`.sql`: the statements of ``include/sql/``, the read-only transaction, the criteria check;
  :mod:`.segments`: segments and their contacts (and the contacts' digests), read with them.
- :mod:`.identifier_cache`: per audience and role, the last extraction's hashes (stored, loaded, checked).
- :mod:`.reading`: the extract task's pipeline: read members, hash them (reusing the cache), stage them.
- :mod:`.staging`: a run's member files; :mod:`.membership`: identifiers as 33-byte keys, set algebra, diff.

May import: the standard library, numpy, pandas, pyarrow, sqlalchemy, sqlparse, phonenumbers and the
rooms below it (:mod:`tiktok_audiences.home`, :mod:`tiktok_audiences.db`,
:mod:`tiktok_audiences.definitions`). Never metadata, tiktok, sync or the Airflow glue; Airflow
itself only inside the functions that make an ``ObjectStoragePath`` (staging and cache folders).
"""

from tiktok_audiences.members.hashing import HashResult, hash_members
from tiktok_audiences.members.identifier_cache import cache_base_url, forget_audience
from tiktok_audiences.members.identifier_types import (
    ID_TYPES,
    TIKTOK_CALCULATE_TYPE,
    TIKTOK_ID_COLUMN,
    Normalization,
    default_normalization,
)
from tiktok_audiences.members.membership import (
    AudienceChanges,
    AudienceMembers,
    Identifiers,
    MemberKeys,
    build_audience,
    count_removed,
    diff_members,
    identifier_keys,
)
from tiktok_audiences.members.normalize import InvalidIdentifier, hash_identifier, hash_identifiers
from tiktok_audiences.members.reading import StagedMembers, stage_members
from tiktok_audiences.members.sql import SegmentError, SqlTemplates
from tiktok_audiences.members.staging import StoragePath, remove_folder, run_folder

__all__ = [
    "ID_TYPES",
    "TIKTOK_CALCULATE_TYPE",
    "TIKTOK_ID_COLUMN",
    "AudienceChanges",
    "AudienceMembers",
    "HashResult",
    "Identifiers",
    "InvalidIdentifier",
    "MemberKeys",
    "Normalization",
    "SegmentError",
    "SqlTemplates",
    "StagedMembers",
    "StoragePath",
    "build_audience",
    "cache_base_url",
    "count_removed",
    "default_normalization",
    "diff_members",
    "forget_audience",
    "hash_identifier",
    "hash_identifiers",
    "hash_members",
    "identifier_keys",
    "remove_folder",
    "run_folder",
    "stage_members",
]
