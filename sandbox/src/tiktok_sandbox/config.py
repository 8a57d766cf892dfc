"""Configuration of the TikTok Marketing API sandbox.

Every knob that changes how the sandbox behaves lives on :class:`SandboxConfig`, so a test (or the
CLI) can build one value, hand it to :func:`tiktok_sandbox.app.create_app`, and later restore it
with ``POST /_sandbox/reset``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from tiktok_sandbox.population import check_phone_forms

#: Scope ids carried by TikTok Marketing API tokens (api-evangelist/tiktok-ads ``scopes/tiktok-ads-scopes.yml``,
#: a digest of TikTok's scope page, doc id 1753986142651394).
SCOPE_AUDIENCE_MANAGEMENT = 3
SCOPE_READ_AUDIENCES = 30
SCOPE_WRITE_AUDIENCES = 31
SCOPE_SHARE_AUDIENCES = 32

DEFAULT_ADVERTISER_IDS: tuple[str, ...] = ("7200000000000000001", "7200000000000000002")
DEFAULT_SCOPE: tuple[int, ...] = (
    SCOPE_AUDIENCE_MANAGEMENT,
    SCOPE_READ_AUDIENCES,
    SCOPE_WRITE_AUDIENCES,
    SCOPE_SHARE_AUDIENCES,
)

#: The answers ``unknown_audience_get`` may choose between.
UNKNOWN_AUDIENCE_GET_ANSWERS = ("absent", "invalid_id_error")
#: TikTok's message for an audience id it does not know, as Segment's fixtures show it.
INVALID_AUDIENCE_ID_MESSAGE = "Parameter error: invalid audience ID"

#: Fields that ``POST /_sandbox/config`` may change at run time.
RUNTIME_TUNABLE_FIELDS: frozenset[str] = frozenset(
    {
        "processing_seconds",
        "match_rate",
        "qps_limit",
        "replace_cooldown_seconds",
        "min_audience_size",
        "file_ttl_seconds",
        "auth_code_ttl_seconds",
        "max_mapping_users",
        "partner_api_enabled",
        "phone_match_forms",
        "unknown_audience_get",
        "busy_while_processing",
        "refuse_updates_when_unmatched",
    }
)


@dataclass
class SandboxConfig:
    """Behaviour of one sandbox instance.

    The defaults mirror TikTok's documented production behaviour, except for timings, which are
    shortened so that tests run in seconds rather than days (TikTok takes 24-48 h to process an
    audience; the sandbox takes ``processing_seconds``).
    """

    #: Developer app credentials accepted by the OAuth endpoints.
    app_id: str = "7100000000000000001"
    app_secret: str = "sandbox-app-secret"

    #: The one access token that exists when the sandbox starts (or is reset).
    access_token: str = "sandbox-access-token-0001"
    #: Ad accounts the pre-issued token may act on; also the accounts offered on the consent page.
    advertiser_ids: list[str] = field(default_factory=lambda: list(DEFAULT_ADVERTISER_IDS))
    #: Display names by advertiser id; missing ids get "Sandbox Advertiser N".
    advertiser_names: dict[str, str] = field(default_factory=dict)
    #: Permission scope ids granted to the pre-issued token and to tokens minted through OAuth.
    scope: list[int] = field(default_factory=lambda: list(DEFAULT_SCOPE))

    #: Seconds a created (or updated) audience stays "calculating" before is_valid/cover_num settle.
    processing_seconds: float = 2.0
    #: Share of users that exist on TikTok: of the registered users, or, with no population
    #: registered, of member hashes (each its own user); deterministic, see population.py.
    match_rate: float = 0.62
    #: Forms in which a registered user's phone hash matches a PHONE_SHA256 member: "e164" (SHA-256
    #: of "+16577770000") and/or "digits" ("16577770000"). TikTok documents both
    #: (https://ads.tiktok.com/help/article/list-of-supported-ids-and-formats-for-a-customer-file,
    #: https://ads.tiktok.com/help/article/how-to-create-a-custom-audience-with-a-customer-file).
    phone_match_forms: tuple[str, ...] = ("e164", "digits")
    #: Fewest records a customer-file audience may hold after create/update ("fail if the audience size
    #: is less than 1,000 after the operation", tiktok/tiktok-business-api-sdk
    #: yml_files/dmp_custom_audience_update.yml).
    min_audience_size: int = 1000
    #: Requests per second allowed per access token before code 40100; 0 disables the limit.
    qps_limit: int = 20
    #: Minimum seconds between two REPLACE updates of one audience (about one a day: sutrolabs/census-docs
    #: destinations/tiktok.md; https://fivetran.com/docs/activations/destinations/available-destinations/tiktok);
    #: 0 disables.
    replace_cooldown_seconds: float = 86400.0

    #: Lifetime of an uploaded file_path before create/update answer 40910.
    file_ttl_seconds: float = 3600.0
    #: Lifetime of an OAuth auth_code (valid one hour, single use: bububa/tiktok-business
    #: model/oauth/access_token.go).
    auth_code_ttl_seconds: float = 3600.0
    #: Largest accepted upload in bytes (the TikTok UI states < 1 GB); bigger files get 40907.
    max_file_bytes: int = 1024 * 1024 * 1024
    #: Most users in one /segment/mapping/ request (Braze's reading of TikTok's limit).
    max_mapping_users: int = 10_000
    #: Whether the app may use the Audience Segment ("partner") API; False plays an app TikTok has
    #: not allowlisted for it: /segment/audience/ and /segment/mapping/ answer 40118 (40118 = allowlist-only:
    #: api-evangelist/tiktok-ads errors/tiktok-ads-error-codes.yml; that the segment API needs allowlisting rests
    #: on Treasure Data's TikTok docs, docs.treasuredata.com).
    partner_api_enabled: bool = True
    #: How dmp/custom_audience/get/ answers an id it does not know (deleted, expired, never made):
    #: "absent" leaves it out of ``list`` (what Segment's client checks for, "Audience ID not found",
    #: segmentio/action-destinations PR #2872); "invalid_id_error" answers the whole request with
    #: 40002 "Parameter error: invalid audience ID" (the answer in Segment's TikTok fixtures,
    #: segmentio/action-destinations tiktok-audiences/syncAudience/__tests__/index.test.ts). TikTok's
    #: get spec (tiktok/tiktok-business-api-sdk yml_files/dmp_custom_audience_get.yml) documents neither.
    unknown_audience_get: str = "absent"
    #: Whether an APPEND / REMOVE / REPLACE of a customer-file audience still inside its processing
    #: window (``processing_seconds`` after its create or last change) is refused with 40002 "The
    #: audience is currently being updated or under processing." (TikTok's return-code appendix,
    #: api-evangelist/tiktok-ads errors/tiktok-ads-error-codes.yml). On by default because TikTok
    #: documents it; the test fixtures process instantly (processing_seconds 0), so they never meet it
    #: unless a test opens a window on purpose.
    busy_while_processing: bool = True
    #: Whether a customer-file audience whose processing ended below ``min_audience_size`` matched
    #: users (never valid) refuses APPEND / REMOVE / REPLACE with 40002 "The audience was created with
    #: an audience size of 0 (less than 1000 matches were found)." (same source). On by default: TikTok
    #: documents it.
    refuse_updates_when_unmatched: bool = True
    #: How many request-log entries to keep; the oldest are dropped first.
    request_log_limit: int = 10_000

    def advertiser_name(self, advertiser_id: str) -> str:
        """Return the display name of ``advertiser_id``."""
        if advertiser_id in self.advertiser_names:
            return self.advertiser_names[advertiser_id]
        try:
            position = self.advertiser_ids.index(advertiser_id) + 1
        except ValueError:
            return f"Sandbox Advertiser {advertiser_id}"
        return f"Sandbox Advertiser {position}"

    def copy(self) -> SandboxConfig:
        """Return a deep-enough copy: the mutable containers are not shared."""
        return dataclasses.replace(
            self,
            advertiser_ids=list(self.advertiser_ids),
            advertiser_names=dict(self.advertiser_names),
            scope=list(self.scope),
        )

    def with_updates(self, updates: dict[str, Any]) -> SandboxConfig:
        """Return a copy with the run-time tunable ``updates`` applied.

        Raises:
            ValueError: if a key is not tunable at run time or a value is out of range.
        """
        unknown = set(updates) - RUNTIME_TUNABLE_FIELDS
        if unknown:
            raise ValueError(f"not tunable at run time: {', '.join(sorted(unknown))}")
        updated = dataclasses.replace(self.copy(), **updates)
        updated.validate()
        return updated

    def validate(self) -> None:
        """Raise ValueError when a value cannot work."""
        if not self.advertiser_ids:
            raise ValueError("advertiser_ids must not be empty")
        if not 0.0 <= self.match_rate <= 1.0:
            raise ValueError("match_rate must be within [0, 1]")
        self.phone_match_forms = check_phone_forms(self.phone_match_forms)
        non_negative = {
            "processing_seconds": self.processing_seconds,
            "qps_limit": self.qps_limit,
            "replace_cooldown_seconds": self.replace_cooldown_seconds,
            "min_audience_size": self.min_audience_size,
            "file_ttl_seconds": self.file_ttl_seconds,
            "auth_code_ttl_seconds": self.auth_code_ttl_seconds,
        }
        for name, value in non_negative.items():
            if value < 0:
                raise ValueError(f"{name} must not be negative")
        if self.unknown_audience_get not in UNKNOWN_AUDIENCE_GET_ANSWERS:
            raise ValueError(f"unknown_audience_get must be one of {', '.join(UNKNOWN_AUDIENCE_GET_ANSWERS)}")
        if self.max_mapping_users < 1 or self.max_file_bytes < 1 or self.request_log_limit < 1:
            raise ValueError("max_mapping_users, max_file_bytes and request_log_limit must be positive")
