"""Access tokens and the single-use OAuth auth_codes of the consent page (``oauth2/*`` endpoints)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace

from tiktok_sandbox.errors import ApiError, Code
from tiktok_sandbox.state.base import StateBase


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


class OAuthTokens(StateBase):
    """Issued access tokens and auth_codes."""

    _tokens: dict[str, TokenRecord]
    _auth_codes: dict[str, AuthCode]

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
