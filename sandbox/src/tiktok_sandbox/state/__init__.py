"""Thread-safe in-memory state of the sandbox: tokens, auth codes, files, audiences, faults, log.

:class:`SandboxState` (:mod:`~tiktok_sandbox.state.store`) is one object behind one re-entrant
lock, put together from one mixin per subject:

* :mod:`~tiktok_sandbox.state.base`: the lock, the clock, the configuration in force;
* :mod:`~tiktok_sandbox.state.oauth`: access tokens and OAuth auth_codes;
* :mod:`~tiktok_sandbox.state.files`: uploaded customer files;
* :mod:`~tiktok_sandbox.state.audiences`: the audience table and its reads;
* :mod:`~tiktok_sandbox.state.matching`: the registered population and matched users;
* :mod:`~tiktok_sandbox.state.customer_files`: Customer File Audiences (minimum size, REPLACE
  cooldown, refusals while processing);
* :mod:`~tiktok_sandbox.state.segments`: Partner audiences of the Audience Segment API;
* :mod:`~tiktok_sandbox.state.lookalikes`: Lookalike Audiences;
* :mod:`~tiktok_sandbox.state.traffic`: faults, the QPS limit, the request log, contract violations.

The names the rest of the sandbox and the tests use are re-exported here.
"""

from tiktok_sandbox.state.audiences import (
    CUSTOMER_FILE_AUDIENCE,
    LOOKALIKE_AUDIENCE,
    PARTNER_AUDIENCE,
    Audience,
    AudienceSnapshot,
    HistoryEntry,
)
from tiktok_sandbox.state.customer_files import UpdateAction
from tiktok_sandbox.state.files import UploadedFile
from tiktok_sandbox.state.lookalikes import LOOKALIKE_MIN_SEED
from tiktok_sandbox.state.oauth import AuthCode, TokenRecord
from tiktok_sandbox.state.segments import MappingAction, MappingChange
from tiktok_sandbox.state.store import LIVE_STATES, SandboxState
from tiktok_sandbox.state.traffic import Fault, RequestLogEntry, normalize_route

__all__ = [
    "CUSTOMER_FILE_AUDIENCE",
    "LIVE_STATES",
    "LOOKALIKE_AUDIENCE",
    "LOOKALIKE_MIN_SEED",
    "PARTNER_AUDIENCE",
    "Audience",
    "AudienceSnapshot",
    "AuthCode",
    "Fault",
    "HistoryEntry",
    "MappingAction",
    "MappingChange",
    "RequestLogEntry",
    "SandboxState",
    "TokenRecord",
    "UpdateAction",
    "UploadedFile",
    "normalize_route",
]
