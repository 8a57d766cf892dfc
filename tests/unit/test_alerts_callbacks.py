"""The failure callback stores what kind of error failed a run, for the auth_error alert."""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowFailException

from tiktok_audiences.callbacks import failure_kind
from tiktok_audiences.tiktok.errors import TikTokAuthError


def test_auth_error_behind_the_fail_exception_is_found():
    try:
        try:
            raise TikTokAuthError(code=40105, message="invalid", request_id="r1", endpoint="/e", hint="")
        except TikTokAuthError as err:
            raise AirflowFailException(str(err)) from None  # what the sync operator does
    except AirflowFailException as outer:
        assert failure_kind(outer, "sync_to_tiktok: TikTok error 40105 (cut short)") == "auth"


def test_other_errors_are_other_unless_they_carry_the_hint():
    assert failure_kind(ValueError("segment 99 does not exist"), "segment 99 does not exist") == "other"
    assert failure_kind(None, "…: re-authenticate the integration 'x' (Resync integration)") == "auth"
