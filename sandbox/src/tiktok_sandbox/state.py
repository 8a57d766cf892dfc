"""Thread-safe in-memory state of the sandbox: tokens, auth codes, files, audiences, faults, log.

One re-entrant lock guards everything. The HTTP layer calls in from uvicorn's worker threads and
tests call in from their own thread (``SandboxServer.state``), so every public method takes the
lock. Audiences hold their *real* member sets (Python sets of lowercase hex hashes), which is
what lets tests assert that an APPEND, REMOVE or REPLACE did exactly what it should.

Business rules that depend on stored data (ownership, existence, minimum size, REPLACE cooldown)
live here; request-shape validation lives in :mod:`tiktok_sandbox.tiktok_api`.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from tiktok_sandbox.config import SandboxConfig
from tiktok_sandbox.contract import Violation
from tiktok_sandbox.errors import BUSY_MESSAGE, TOO_FEW_MATCHES_MESSAGE, ApiError, Code, parameter_error
from tiktok_sandbox.identifiers import (
    MULTIPLE_TYPES,
    MemberSets,
    count_matched_sets,
    id_family,
    storage_key,
)
from tiktok_sandbox.population import Population

CUSTOMER_FILE_AUDIENCE = "Customer File Audience"
PARTNER_AUDIENCE = "Partner"
LOOKALIKE_AUDIENCE = "Lookalike Audience"
#: TikTok's rule for a lookalike's seed (SDK yml): at least 100 (matched) users.
LOOKALIKE_MIN_SEED = 100
#: Users found per matched seed user and location, by audience_size (TikTok's enum values are 10/20/30).
_LOOKALIKE_FACTOR = {"NARROW": 10, "BALANCED": 20, "BROAD": 30}
#: Share (percent) of the users on the chosen devices.
_LOOKALIKE_OS_SHARE = {"ALL": 100, "ANDROID": 70, "IOS": 30}
UpdateAction = Literal["APPEND", "REMOVE", "REPLACE"]
MappingAction = Literal["add", "delete"]

_SECONDS_PER_DAY = 86400.0
_DEFAULT_LIFETIME_DAYS = 365
# Audience ids look like TikTok's 19-digit ids; the counter survives resets so that a stale id
# kept by a client across a reset can never silently point at a new audience.
_AUDIENCE_ID_BASE = 7_300_000_000_000_000_000


@dataclass
class TokenRecord:
    """An access token and what it may do."""

    token: str
    advertiser_ids: tuple[str, ...]
    scope: tuple[int, ...]
    revoked: bool = False


@dataclass
class AuthCode:
    """A single-use OAuth auth_code issued by the consent page."""

    code: str
    advertiser_ids: tuple[str, ...]
    issued_at: float
    used: bool = False


@dataclass(frozen=True)
class UploadedFile:
    """A parsed customer file, addressable by its opaque ``file_path``."""

    file_path: str
    advertiser_id: str
    calculate_type: str
    members: dict[str, frozenset[str]]
    uploaded_at: float
    name: str | None


@dataclass(frozen=True)
class HistoryEntry:
    """One line of an audience's ``audience_history``."""

    action: str
    action_detail: str
    opt_time: float
    msg: str | None = None


@dataclass
class Audience:
    """A custom audience with its real member set.

    ``matched_users`` always reflects the current members; ``cover_num`` is what TikTok shows,
    which only catches up once the processing window (``processing_until``) has passed.
    ``matched_count`` counts matched users without an identity: member hashes that are their own
    user (no population registered) or, for a lookalike, its computed reach;
    ``matched_user_refs`` maps each matched *registered* user to how many member hashes reach it,
    so that a user holding an email, a phone and a MAID counts once and leaves only with its
    last hash (see :mod:`tiktok_sandbox.population`).
    """

    audience_id: str
    advertiser_id: str
    name: str
    audience_type: str
    calculate_type: str
    sub_type: str
    members: MemberSets
    created_at: float
    modified_at: float
    processing_until: float
    matched_count: int
    retention_in_days: int | None = None
    audience_enhancement: bool = False
    cover_num: int = 0
    is_valid: bool = False
    settled: bool = False
    msg: str | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    last_replace_at: float | None = None
    deleted: bool = False
    lookalike_spec: dict | None = None
    matched_user_refs: dict[int, int] = field(default_factory=dict)

    @property
    def matched_users(self) -> int:
        """Distinct TikTok users the current members reach: what ``cover_num`` becomes once processed."""
        return self.matched_count + len(self.matched_user_refs)

    @property
    def member_count(self) -> int:
        """Number of distinct (type, hash) members."""
        return sum(len(values) for values in self.members.values())

    @property
    def expires_at(self) -> float:
        """When the audience expires: ``retention_in_days`` after creation, else 365 days after the last change.

        tiktok/tiktok-business-api-sdk yml_files/dmp_custom_audience_create.yml (``retention_in_days``);
        https://ads.tiktok.com/help/article/audience-expiration-policy.
        """
        if self.retention_in_days is not None:
            return self.created_at + self.retention_in_days * _SECONDS_PER_DAY
        return self.modified_at + _DEFAULT_LIFETIME_DAYS * _SECONDS_PER_DAY

    def settle(self, now: float, min_matched: int) -> None:
        """Publish the result of processing once its window has passed.

        An audience that was valid stays valid through later updates ("updates keep is_valid as
        it was"); one that never reached ``min_matched`` matched users stays invalid with a
        message, until an update brings enough matched users.
        """
        if self.settled or now < self.processing_until:
            return
        self.settled = True
        self.cover_num = self.matched_users
        if self.cover_num >= min_matched:
            self.is_valid = True
            self.msg = None
        elif not self.is_valid:
            self.msg = (
                f"Only {self.cover_num} matched TikTok users; an audience needs at least "
                f"{min_matched:,} matched users to become available."
            )

    def start_processing(self, now: float, seconds: float) -> None:
        """Open a processing window after a change of members."""
        self.processing_until = now + seconds
        self.settled = False


@dataclass(frozen=True)
class AudienceSnapshot:
    """Read-only copy of an audience's scalar fields, safe to use outside the lock."""

    audience_id: str
    advertiser_id: str
    name: str
    audience_type: str
    calculate_type: str
    sub_type: str
    member_count: int
    cover_num: int
    is_valid: bool
    created_at: float
    expires_at: float
    msg: str | None
    deleted: bool
    history: tuple[HistoryEntry, ...]
    lookalike_spec: dict | None = None
    audience_enhancement: bool = False


@dataclass
class Fault:
    """A scripted failure for the next ``times`` requests to a TikTok route."""

    path: str
    code: int | None = None
    http_status: int | None = None
    latency_seconds: float = 0.0
    malformed_json: bool = False
    times: int = 1
    after_processing: bool = False
    message: str | None = None

    @property
    def changes_response(self) -> bool:
        """False for a pure latency fault, which delays but then answers normally."""
        return self.code is not None or self.http_status is not None or self.malformed_json


@dataclass(frozen=True)
class RequestLogEntry:
    """What the sandbox remembers about a request: never its body."""

    method: str
    path: str
    status: int
    code: int | None
    request_bytes: int
    response_bytes: int
    at: float


@dataclass(frozen=True)
class MappingChange:
    """One (audience, id type, hash) membership change requested through /segment/mapping/."""

    audience_id: str
    id_type: str
    value: str


def normalize_route(path: str) -> str:
    """Return a TikTok endpoint path without surrounding slashes (fault and route matching)."""
    return path.strip("/")


#: Every live SandboxState, so the test suite can check each sandbox a test started for contract
#: violations (tests/conftest.py) without every fixture having to hand its state over.
LIVE_STATES: weakref.WeakSet[SandboxState] = weakref.WeakSet()


class SandboxState:
    """All mutable sandbox data behind one lock."""

    def __init__(self, config: SandboxConfig | None = None, clock: Callable[[], float] = time.time) -> None:
        self._initial_config = (config or SandboxConfig()).copy()
        self._initial_config.validate()
        self._clock = clock
        self._lock = threading.RLock()
        self._audience_ids = itertools.count(_AUDIENCE_ID_BASE + 1)
        self._config = self._initial_config.copy()
        self._tokens: dict[str, TokenRecord] = {}
        self._auth_codes: dict[str, AuthCode] = {}
        self._files: dict[str, UploadedFile] = {}
        self._audiences: dict[str, Audience] = {}
        self._faults: list[Fault] = []
        self._request_log: deque[RequestLogEntry] = deque()
        self._request_times: dict[str, deque[float]] = {}
        self._population = Population()
        self._contract_violations: list[Violation] = []
        #: Never cleared, not even by reset: the suite's checker counts what a test added.
        self._contract_violation_history: list[Violation] = []
        self.reset()
        LIVE_STATES.add(self)

    # ----------------------------------------------------------------- contract violations

    def record_contract_violations(self, violations: Sequence[Violation]) -> None:
        """Keep calls that broke TikTok's contract (field paths and problems only, no values)."""
        if not violations:
            return
        with self._lock:
            self._contract_violations.extend(violations)
            self._contract_violation_history.extend(violations)

    def contract_violations(self) -> list[Violation]:
        """Contract violations since the last reset."""
        with self._lock:
            return list(self._contract_violations)

    def contract_violation_history(self) -> list[Violation]:
        """Every contract violation since this state was made (reset does not clear it)."""
        with self._lock:
            return list(self._contract_violation_history)

    # ----------------------------------------------------------------- lifecycle & config

    def now(self) -> float:
        """Current time in seconds since the epoch (injectable for tests)."""
        return self._clock()

    @property
    def config(self) -> SandboxConfig:
        """A copy of the configuration in force."""
        with self._lock:
            return self._config.copy()

    def reset(self) -> None:
        """Forget audiences, files, faults, the request log and OAuth state; restore tokens/config."""
        with self._lock:
            self._config = self._initial_config.copy()
            self._tokens = {
                self._config.access_token: TokenRecord(
                    token=self._config.access_token,
                    advertiser_ids=tuple(self._config.advertiser_ids),
                    scope=tuple(self._config.scope),
                )
            }
            self._auth_codes.clear()
            self._files.clear()
            self._audiences.clear()
            self._faults.clear()
            self._request_log = deque(maxlen=self._config.request_log_limit)
            self._request_times.clear()
            self._population.clear()
            self._contract_violations.clear()

    def update_config(self, updates: dict[str, object]) -> SandboxConfig:
        """Change run-time tunables; raises ValueError for unknown keys or bad values."""
        with self._lock:
            before = self._config
            self._config = before.with_updates(dict(updates))
            if self._config.phone_match_forms != before.phone_match_forms or (
                self._population.registered and self._config.match_rate != before.match_rate
            ):
                # Which hashes reach a user on TikTok changed, so every audience's matches change
                # with it. (Without a population a new match_rate applies to later changes only.)
                self._rematch_all()
            return self._config.copy()

    # ----------------------------------------------------------------- population (who is on TikTok)

    def register_population(self, id_schema: Sequence[str], users: Sequence[Sequence[str | None]]) -> dict:
        """Register TikTok users as groups of hashes (all or nothing) and re-match every audience.

        Raises:
            ValueError: the registration is malformed (see :meth:`Population.validate`).
        """
        groups = Population.validate(id_schema, users)
        with self._lock:
            added = self._population.add(groups)
            self._rematch_all()
            return {"registered": added, **self._population_summary()}

    def clear_population(self) -> None:
        """Forget the registered users: every hash is its own user again."""
        with self._lock:
            self._population.clear()
            self._rematch_all()

    def population_summary(self) -> dict:
        """How many users and identifiers are registered, and the phone forms that match."""
        with self._lock:
            return self._population_summary()

    def _population_summary(self) -> dict:
        return {
            "users": self._population.user_count(),
            "identifiers": self._population.identifier_counts(),
            "phone_match_forms": list(self._config.phone_match_forms),
        }

    def matched_users(self, audience_id: str) -> int | None:
        """Distinct TikTok users the audience's *current* members reach (``cover_num`` once processed).

        None for an unknown audience. Unlike ``cover_num`` this does not wait for processing.
        """
        with self._lock:
            audience = self._audiences.get(audience_id)
            return None if audience is None else audience.matched_users

    def count_matched_users(self, members: MemberSets) -> int:
        """Distinct TikTok users a member set would reach, computed from scratch (for rules that
        must judge a result before applying it)."""
        with self._lock:
            lone, refs = self._tally(members)
            return lone + len(refs)

    def _tally(self, members: MemberSets | dict[str, frozenset[str]]) -> tuple[int, dict[int, int]]:
        """``(matched hashes without a registered user, {registered user: hashes reaching it})``."""
        config = self._config
        if not self._population.registered:
            return count_matched_sets(members, config.match_rate), {}
        return 0, self._population.matched_users(members, config.match_rate, config.phone_match_forms)

    def _count_in(self, audience: Audience, added: MemberSets) -> None:
        """Add the matches of members that just joined ``audience``."""
        lone, refs = self._tally(added)
        audience.matched_count += lone
        held = audience.matched_user_refs
        for user, hashes in refs.items():
            held[user] = held.get(user, 0) + hashes

    def _count_out(self, audience: Audience, removed: MemberSets) -> None:
        """Take out the matches of members that just left ``audience``."""
        if not self._population.registered:
            audience.matched_count -= count_matched_sets(removed, self._config.match_rate)
            return
        held = audience.matched_user_refs
        forms = self._config.phone_match_forms
        for id_type, values in removed.items():
            for value in values:
                # Only users the audience holds can leave it, whatever match_rate is in force now.
                user = self._population.user_of(id_type, value, forms)
                if user is not None and user in held:
                    held[user] -= 1
                    if not held[user]:
                        del held[user]

    def _rematch_all(self) -> None:
        """Recount every live member audience after the population (or the phone forms) changed.

        User ids change when groups merge, so the counts are rebuilt rather than adjusted. Settled
        audiences show the new count at once; one still processing shows it when its window closes.
        """
        now = self.now()
        for audience in self._audiences.values():
            if audience.deleted or audience.audience_type == LOOKALIKE_AUDIENCE:
                continue  # a lookalike's reach follows its seed at create / refresh
            audience.settle(now, self._config.min_audience_size)
            audience.matched_count, audience.matched_user_refs = self._tally(audience.members)
            if audience.settled:
                audience.settled = False
                audience.settle(now, self._config.min_audience_size)

    # ----------------------------------------------------------------- tokens & OAuth

    def lookup_token(self, token: str) -> TokenRecord | None:
        """Return a copy of the token record, or None when the token was never issued."""
        with self._lock:
            record = self._tokens.get(token)
            return replace(record) if record else None

    def add_token(self, token: str, advertiser_ids: Sequence[str], scope: Sequence[int]) -> TokenRecord:
        """Register (or overwrite) an access token."""
        with self._lock:
            record = TokenRecord(token=token, advertiser_ids=tuple(advertiser_ids), scope=tuple(scope))
            self._tokens[token] = record
            return replace(record)

    def revoke_token(self, token: str) -> TokenRecord | None:
        """Mark a token revoked; returns its record, or None if it does not exist."""
        with self._lock:
            record = self._tokens.get(token)
            if record is None:
                return None
            record.revoked = True
            return replace(record)

    def admit_request(self, token: str) -> bool:
        """Count a request against the token's per-second budget; False when over the limit.

        Only admitted requests are counted, so a client that backs off for a second recovers.
        """
        with self._lock:
            limit = self._config.qps_limit
            if limit <= 0:
                return True
            now = self.now()
            window = self._request_times.setdefault(token, deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= limit:
                return False
            window.append(now)
            return True

    def issue_auth_code(self, advertiser_ids: Sequence[str]) -> str:
        """Create a single-use auth_code bound to ``advertiser_ids``."""
        code = secrets.token_hex(20)
        with self._lock:
            self._auth_codes[code] = AuthCode(code=code, advertiser_ids=tuple(advertiser_ids), issued_at=self.now())
        return code

    def redeem_auth_code(self, code: str) -> TokenRecord:
        """Exchange an auth_code for a new access token.

        Raises:
            ApiError: 40110 when the code is unknown, already used or older than its TTL.
        """
        with self._lock:
            auth = self._auth_codes.get(code)
            if auth is None or auth.used:
                raise ApiError(Code.AUTH_CODE_INVALID, "auth_code is invalid or has already been used.")
            if self.now() - auth.issued_at > self._config.auth_code_ttl_seconds:
                raise ApiError(Code.AUTH_CODE_INVALID, "auth_code has expired; it is valid for 1 hour.")
            auth.used = True
            return self.add_token(secrets.token_hex(20), auth.advertiser_ids, self._config.scope)

    # ----------------------------------------------------------------- files

    def store_file(
        self, advertiser_id: str, calculate_type: str, members: dict[str, frozenset[str]], name: str | None
    ) -> str:
        """Keep a parsed upload and return its opaque file_path (16 hex chars, as TikTok's yml)."""
        with self._lock:
            now = self.now()
            self._purge_expired_files(now)
            file_path = secrets.token_hex(8)
            self._files[file_path] = UploadedFile(
                file_path=file_path,
                advertiser_id=advertiser_id,
                calculate_type=calculate_type,
                members=members,
                uploaded_at=now,
                name=name,
            )
            return file_path

    def _purge_expired_files(self, now: float) -> None:
        # Expired files can hold millions of hashes; drop them instead of letting memory grow.
        ttl = self._config.file_ttl_seconds
        for path in [p for p, f in self._files.items() if now - f.uploaded_at > ttl]:
            del self._files[path]

    def _resolve_files(self, advertiser_id: str, file_paths: Sequence[str], calculate_type: str) -> list[UploadedFile]:
        """Return the files behind ``file_paths``; they must be live, owned and of one type."""
        now = self.now()
        self._purge_expired_files(now)
        files = []
        for path in dict.fromkeys(file_paths):
            uploaded = self._files.get(path)
            # Another advertiser's file is reported exactly like a missing one: TikTok does not
            # reveal that a file_path exists elsewhere.
            if uploaded is None or uploaded.advertiser_id != advertiser_id:
                raise ApiError(
                    Code.FILE_PATH_EXPIRED,
                    f"The file_path {path} does not exist or has expired. Please upload the file again.",
                )
            if uploaded.calculate_type != calculate_type:
                raise parameter_error(
                    "calculate_type",
                    f"file {path} was uploaded as {uploaded.calculate_type}, not {calculate_type}",
                )
            files.append(uploaded)
        return files

    # ----------------------------------------------------------------- customer-file audiences

    def create_customer_file_audience(
        self,
        advertiser_id: str,
        name: str,
        calculate_type: str,
        file_paths: Sequence[str],
        sub_type: str,
        retention_in_days: int | None,
        audience_enhancement: bool = False,
    ) -> str:
        """Create an audience from uploaded files; returns the new custom_audience_id.

        ``retention_in_days`` pins the expiry to creation + N days; ``audience_enhancement`` is kept
        and shown by get (TikTok documents no semantics for it beyond "boolean, default false").
        """
        with self._lock:
            files = self._resolve_files(advertiser_id, file_paths, calculate_type)
            members = _merge_files(files, calculate_type)
            self._require_min_size(sum(len(v) for v in members.values()))
            now = self.now()
            audience = Audience(
                audience_id=str(next(self._audience_ids)),
                advertiser_id=advertiser_id,
                name=name,
                audience_type=CUSTOMER_FILE_AUDIENCE,
                calculate_type=calculate_type,
                sub_type=sub_type,
                members=members,
                created_at=now,
                modified_at=now,
                processing_until=now + self._config.processing_seconds,
                matched_count=0,
                retention_in_days=retention_in_days,
                audience_enhancement=audience_enhancement,
            )
            self._count_in(audience, members)
            audience.history.append(
                HistoryEntry("create", f"{len(files)} file(s), {audience.member_count} record(s)", now)
            )
            self._audiences[audience.audience_id] = audience
            return audience.audience_id

    def update_customer_file_audience(
        self,
        advertiser_id: str,
        audience_id: str,
        *,
        name: str | None,
        file_paths: Sequence[str] | None,
        action: UpdateAction,
    ) -> None:
        """Rename an audience and/or change its members; all-or-nothing.

        Raises:
            ApiError: 40007 unknown/deleted audience; 40910 bad file_path; 40002 wrong type,
                REPLACE within the cooldown, or a result below ``min_audience_size``.
        """
        with self._lock:
            audience = self._owned_audience(advertiser_id, audience_id)
            now = self.now()
            audience.settle(now, self._config.min_audience_size)
            if file_paths is not None:
                self._require_updatable(audience, now)
                self._change_members(audience, file_paths, action, now)
            if name is not None and name != audience.name:
                audience.name = name
                audience.history.append(HistoryEntry("rename", name, now))

    def change_sub_type(self, advertiser_id: str, audience_id: str, sub_type: str) -> None:
        """Switch a NORMAL audience to REACH_FREQUENCY (the only direction TikTok allows)."""
        with self._lock:
            audience = self._owned_audience(advertiser_id, audience_id)
            if audience.sub_type == sub_type:
                return
            if sub_type != "REACH_FREQUENCY":
                raise parameter_error("audience_sub_type", "can only be changed from NORMAL to REACH_FREQUENCY")
            audience.sub_type = sub_type
            audience.history.append(HistoryEntry("update_sub_type", sub_type, self.now()))

    def _change_members(self, audience: Audience, file_paths: Sequence[str], action: UpdateAction, now: float) -> None:
        if audience.audience_type != CUSTOMER_FILE_AUDIENCE:
            raise parameter_error(
                "custom_audience_id", f"audience {audience.audience_id} is not a Customer File Audience"
            )
        files = self._resolve_files(audience.advertiser_id, file_paths, audience.calculate_type)
        if action == "REPLACE":
            self._check_replace_cooldown(audience, now)
        incoming = _merge_files(files, audience.calculate_type)
        if action == "APPEND":
            added = {key: values - audience.members.get(key, set()) for key, values in incoming.items()}
            self._require_min_size(audience.member_count + sum(len(v) for v in added.values()))
            for key, values in added.items():
                audience.members.setdefault(key, set()).update(values)
            self._count_in(audience, added)
            changed = sum(len(v) for v in added.values())
        elif action == "REMOVE":
            removed = _matching_members(audience.members, incoming)
            self._require_min_size(audience.member_count - sum(len(v) for v in removed.values()))
            for key, values in removed.items():
                audience.members[key] -= values
            self._count_out(audience, removed)
            changed = sum(len(v) for v in removed.values())
        else:
            self._require_min_size(sum(len(v) for v in incoming.values()))
            audience.members = incoming
            audience.matched_count, audience.matched_user_refs = self._tally(incoming)
            audience.last_replace_at = now
            changed = audience.member_count
        audience.modified_at = now
        audience.start_processing(now, self._config.processing_seconds)
        audience.history.append(
            HistoryEntry(action.lower(), f"{len(files)} file(s), {changed} record(s) {_VERB[action]}", now)
        )

    def _require_updatable(self, audience: Audience, now: float) -> None:
        """TikTok's two audience refusals of a member change (40002, its return-code appendix)."""
        if audience.audience_type != CUSTOMER_FILE_AUDIENCE:
            return  # _change_members refuses it with its own message
        if self._config.busy_while_processing and now < audience.processing_until:
            raise ApiError(Code.PARAMETER_ERROR, BUSY_MESSAGE)
        if self._config.refuse_updates_when_unmatched and audience.settled and not audience.is_valid:
            # Processing ended below the minimum of matched users and the audience never became valid.
            raise ApiError(Code.PARAMETER_ERROR, TOO_FEW_MATCHES_MESSAGE)

    def _check_replace_cooldown(self, audience: Audience, now: float) -> None:
        cooldown = self._config.replace_cooldown_seconds
        if cooldown > 0 and audience.last_replace_at is not None and now - audience.last_replace_at < cooldown:
            raise ApiError(
                Code.PARAMETER_ERROR,
                f"Parameter error: audience {audience.audience_id} has an unfinished replace operation. "
                "It is recommended to replace an audience no more than once per day.",
            )

    def _require_min_size(self, resulting_size: int) -> None:
        minimum = self._config.min_audience_size
        if resulting_size < minimum:
            raise ApiError(
                Code.PARAMETER_ERROR,
                f"Parameter error: the audience must have at least {minimum:,} records; "
                f"this request would leave {resulting_size:,}.",
            )

    def _owned_audience(self, advertiser_id: str, audience_id: str) -> Audience:
        audience = self._audiences.get(audience_id)
        if audience is None or audience.deleted or audience.advertiser_id != advertiser_id:
            raise ApiError(Code.OBJECT_NOT_FOUND, f"The audience {audience_id} does not exist.")
        return audience

    def delete_audiences(self, advertiser_id: str, audience_ids: Sequence[str]) -> None:
        """Delete audiences; if any id is unknown nothing is deleted (40007)."""
        with self._lock:
            audiences = [self._owned_audience(advertiser_id, audience_id) for audience_id in audience_ids]
            for audience in audiences:
                audience.deleted = True
                # The hashes are no longer reachable through the API; keep only the count.
                audience.members = {}

    # ----------------------------------------------------------------- reads

    def get_audiences(self, advertiser_id: str, audience_ids: Iterable[str]) -> list[AudienceSnapshot]:
        """Snapshots of the advertiser's live audiences among ``audience_ids`` (unknown ids skipped)."""
        with self._lock:
            found = []
            for audience_id in dict.fromkeys(audience_ids):
                audience = self._audiences.get(audience_id)
                if audience and not audience.deleted and audience.advertiser_id == advertiser_id:
                    found.append(self._snapshot(audience))
            return found

    def list_audiences(self, advertiser_id: str, audience_ids: Iterable[str] | None = None) -> list[AudienceSnapshot]:
        """All live audiences of the advertiser, newest first, optionally filtered by id."""
        with self._lock:
            wanted = set(audience_ids) if audience_ids is not None else None
            audiences = [
                a
                for a in self._audiences.values()
                if a.advertiser_id == advertiser_id and not a.deleted and (wanted is None or a.audience_id in wanted)
            ]
            audiences.sort(key=lambda a: (a.created_at, int(a.audience_id)), reverse=True)
            return [self._snapshot(a) for a in audiences]

    def all_audiences(self) -> list[AudienceSnapshot]:
        """Every audience ever created since the last reset, deleted ones included."""
        with self._lock:
            return [self._snapshot(a) for a in self._audiences.values()]

    def audience_members(self, audience_id: str) -> dict[str, set[str]] | None:
        """A copy of the audience's member sets by id type, or None if it does not exist."""
        with self._lock:
            audience = self._audiences.get(audience_id)
            if audience is None:
                return None
            return {key: set(values) for key, values in audience.members.items() if values}

    def finish_processing(self, audience_id: str) -> AudienceSnapshot | None:
        """End the audience's processing window now (a test shortcut)."""
        with self._lock:
            audience = self._audiences.get(audience_id)
            if audience is None:
                return None
            audience.processing_until = min(audience.processing_until, self.now())
            return self._snapshot(audience)

    def _snapshot(self, audience: Audience) -> AudienceSnapshot:
        audience.settle(self.now(), self._config.min_audience_size)
        return AudienceSnapshot(
            audience_id=audience.audience_id,
            advertiser_id=audience.advertiser_id,
            name=audience.name,
            audience_type=audience.audience_type,
            calculate_type=audience.calculate_type,
            sub_type=audience.sub_type,
            member_count=audience.member_count,
            cover_num=audience.cover_num,
            is_valid=audience.is_valid,
            created_at=audience.created_at,
            expires_at=audience.expires_at,
            msg=audience.msg,
            deleted=audience.deleted,
            history=tuple(audience.history),
            lookalike_spec=dict(audience.lookalike_spec) if audience.lookalike_spec else None,
            audience_enhancement=audience.audience_enhancement,
        )

    # ----------------------------------------------------------------- lookalike audiences

    def create_lookalike_audience(self, advertiser_id: str, name: str, spec: dict) -> str:
        """Create a Lookalike Audience of the advertiser's audience ``spec["source_audience_id"]``.

        Raises:
            ApiError: 40002 when the source does not exist (or is another advertiser's), is itself
                a lookalike, or has fewer than 100 matched users (which includes a source TikTok
                has not processed yet).
        """
        with self._lock:
            now = self.now()
            source = self._lookalike_source(advertiser_id, str(spec["source_audience_id"]), now)
            audience = Audience(
                audience_id=str(next(self._audience_ids)),
                advertiser_id=advertiser_id,
                name=name,
                audience_type=LOOKALIKE_AUDIENCE,
                calculate_type="",
                sub_type="NORMAL",
                members={},
                created_at=now,
                modified_at=now,
                processing_until=now + self._config.processing_seconds,
                matched_count=_lookalike_reach(source.cover_num, spec),
                lookalike_spec=dict(spec),
            )
            audience.history.append(HistoryEntry("create", f"lookalike of {source.audience_id}", now))
            self._audiences[audience.audience_id] = audience
            return audience.audience_id

    def refresh_lookalikes(self, advertiser_id: str, audience_ids: Sequence[str]) -> None:
        """Rebuild lookalikes from their seed's current members (all or nothing).

        Raises:
            ApiError: 40002 when an id is not one of the advertiser's live lookalikes, or its
                source no longer qualifies as a seed.
        """
        with self._lock:
            now = self.now()
            plans = []
            for audience_id in dict.fromkeys(audience_ids):
                audience = self._audiences.get(audience_id)
                if (audience is None or audience.deleted or audience.advertiser_id != advertiser_id
                        or audience.audience_type != LOOKALIKE_AUDIENCE):
                    raise parameter_error(
                        "custom_audience_ids", f"{audience_id} is not a lookalike audience of this advertiser"
                    )
                assert audience.lookalike_spec is not None
                source = self._lookalike_source(advertiser_id, str(audience.lookalike_spec["source_audience_id"]), now)
                plans.append((audience, source))
            for audience, source in plans:
                audience.settle(now, self._config.min_audience_size)
                audience.matched_count = _lookalike_reach(source.cover_num, audience.lookalike_spec or {})
                audience.modified_at = now
                audience.start_processing(now, self._config.processing_seconds)
                audience.history.append(HistoryEntry("refresh", f"lookalike of {source.audience_id}", now))

    def _lookalike_source(self, advertiser_id: str, source_id: str, now: float) -> Audience:
        source = self._audiences.get(source_id)
        if source is None or source.deleted or source.advertiser_id != advertiser_id:
            raise parameter_error("source_audience_id", f"the audience {source_id} does not exist")
        if source.audience_type == LOOKALIKE_AUDIENCE:
            raise parameter_error("source_audience_id", f"the audience {source_id} is a lookalike audience; "
                                  "a lookalike cannot be the source of another")
        source.settle(now, self._config.min_audience_size)
        if source.cover_num < LOOKALIKE_MIN_SEED:
            raise parameter_error(
                "source_audience_id",
                f"the source audience {source_id} has {source.cover_num} matched users (at least "
                f"{LOOKALIKE_MIN_SEED} are needed; an audience still being processed has none yet)",
            )
        return source

    # ----------------------------------------------------------------- partner (segment) audiences

    def create_partner_audience(self, advertiser_id: str, name: str) -> str:
        """Create an empty Partner audience for the Segment API; returns its audience_id."""
        with self._lock:
            now = self.now()
            audience = Audience(
                audience_id=str(next(self._audience_ids)),
                advertiser_id=advertiser_id,
                name=name,
                audience_type=PARTNER_AUDIENCE,
                calculate_type=MULTIPLE_TYPES,
                sub_type="NORMAL",
                members={},
                created_at=now,
                modified_at=now,
                processing_until=now + self._config.processing_seconds,
                matched_count=0,
            )
            # Matches the fixture of a fresh Segment-API audience in segmentio/action-destinations
            # packages/destination-actions/src/destinations/tiktok-audiences/__tests__/index.test.ts.
            audience.history.append(HistoryEntry("create", "0", now))
            self._audiences[audience.audience_id] = audience
            return audience.audience_id

    def delete_partner_audience(self, advertiser_id: str, audience_id: str) -> None:
        """Delete through /segment/audience/ (action=delete)."""
        self.delete_audiences(advertiser_id, [audience_id])

    def apply_mapping(
        self, advertiser_ids: Sequence[str], action: MappingAction, changes: Sequence[MappingChange]
    ) -> None:
        """Add or delete identifiers in Partner audiences; validates every audience id first.

        Raises:
            ApiError: 40002 when an audience id is unknown, deleted, not a Partner audience, or
                belongs to none of ``advertiser_ids``; nothing is applied then.
        """
        with self._lock:
            allowed = set(advertiser_ids)
            audiences: dict[str, Audience] = {}
            for audience_id in dict.fromkeys(change.audience_id for change in changes):
                audience = self._audiences.get(audience_id)
                if (
                    audience is None
                    or audience.deleted
                    or audience.advertiser_id not in allowed
                    or audience.audience_type != PARTNER_AUDIENCE
                ):
                    raise parameter_error("audience_ids", f"invalid audience ID {audience_id}")
                audiences[audience_id] = audience
            now = self.now()
            for audience in audiences.values():
                # Publish any finished processing before this change opens a new window.
                audience.settle(now, self._config.min_audience_size)
            touched: set[str] = set()
            for change in changes:
                audience = audiences[change.audience_id]
                if _apply_mapping_change(audience, action, change):
                    one = {change.id_type: {change.value}}
                    if action == "add":
                        self._count_in(audience, one)
                    else:
                        self._count_out(audience, one)
                    touched.add(audience.audience_id)
            for audience_id in touched:
                audience = audiences[audience_id]
                audience.modified_at = now
                audience.start_processing(now, self._config.processing_seconds)

    # ----------------------------------------------------------------- faults

    def add_fault(self, fault: Fault) -> None:
        """Queue a fault; faults for a route are consumed in the order they were added."""
        with self._lock:
            self._faults.append(replace(fault, path=normalize_route(fault.path) or "*"))

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()

    def faults(self) -> list[Fault]:
        """Copies of the queued faults."""
        with self._lock:
            return [replace(f) for f in self._faults]

    def take_fault(self, route: str) -> Fault | None:
        """Consume one use of the first queued fault matching ``route`` (or ``*``)."""
        route = normalize_route(route)
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.path in ("*", route):
                    fault.times -= 1
                    if fault.times <= 0:
                        del self._faults[index]
                    return replace(fault)
            return None

    # ----------------------------------------------------------------- request log

    def log_request(self, entry: RequestLogEntry) -> None:
        """Remember a request's shape (never its body)."""
        with self._lock:
            self._request_log.append(entry)

    def request_log(self) -> list[RequestLogEntry]:
        """The remembered requests, oldest first."""
        with self._lock:
            return list(self._request_log)

    def clear_request_log(self) -> None:
        """Forget the remembered requests."""
        with self._lock:
            self._request_log.clear()


def _lookalike_reach(seed_matched: int, spec: dict) -> int:
    """The (deterministic) number of users a lookalike finds for a seed of ``seed_matched`` users."""
    locations = len(spec.get("location_ids") or ()) or 1
    found = seed_matched * _LOOKALIKE_FACTOR.get(str(spec.get("audience_size")), 20) * locations
    found = found * _LOOKALIKE_OS_SHARE.get(str(spec.get("mobile_os")), 100) // 100
    return found + (seed_matched if spec.get("include_source") else 0)


_VERB: dict[str, str] = {"APPEND": "added", "REMOVE": "removed", "REPLACE": "now in the audience"}


def _merge_files(files: Iterable[UploadedFile], calculate_type: str) -> MemberSets:
    """Union the files' identifiers into fresh member sets keyed for an audience of ``calculate_type``."""
    merged: MemberSets = {}
    for uploaded in files:
        for column_type, values in uploaded.members.items():
            merged.setdefault(storage_key(calculate_type, column_type), set()).update(values)
    return merged


def _matching_members(members: MemberSets, incoming: MemberSets) -> MemberSets:
    """Members that a REMOVE of ``incoming`` takes out (same hash, same identifier family)."""
    removed: MemberSets = {}
    for column_type, values in incoming.items():
        for key in id_family(column_type):
            existing = members.get(key)
            if existing:
                hits = existing & values
                if hits:
                    removed.setdefault(key, set()).update(hits)
    return removed


def _apply_mapping_change(audience: Audience, action: MappingAction, change: MappingChange) -> bool:
    """Apply one mapping change; returns whether membership actually changed."""
    if action == "add":
        values = audience.members.setdefault(change.id_type, set())
        if change.value in values:
            return False
        values.add(change.value)
        return True
    existing = audience.members.get(change.id_type)
    if existing is None or change.value not in existing:
        return False
    existing.discard(change.value)
    return True
