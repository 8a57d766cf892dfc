"""Which TikTok errors are worth another attempt (exceptions.is_transient), as one pure function."""

from __future__ import annotations

import pytest
import requests

from tiktok_audiences.tiktok.errors import (
    RETRYABLE_CODES,
    TikTokApiError,
    TikTokRetryableError,
    error_for_code,
    is_permanent_tiktok_error,
    is_transient,
    is_unknown_audience_refusal,
)


def coded(
    code: int, endpoint: str = "/open_api/v1.3/dmp/custom_audience/update/", message: str = "m"
) -> TikTokApiError:
    return error_for_code(code=code, message=message, request_id="req-1", endpoint=endpoint, conn_id="tiktok_x")


@pytest.mark.parametrize("code", sorted(RETRYABLE_CODES))
def test_retryable_codes_are_transient(code):
    assert is_transient(coded(code))
    assert not is_permanent_tiktok_error(coded(code))


@pytest.mark.parametrize(
    "code",
    [40000, 40002, 40001, 40007, 40102, 40105, 40118, 40900, 40910, 40911, 41000],
    ids=lambda c: str(c),
)
def test_other_codes_are_permanent(code):
    assert not is_transient(coded(code))
    assert is_permanent_tiktok_error(coded(code))


def test_partner_access_refusal_is_permanent():
    assert is_permanent_tiktok_error(coded(40118, endpoint="/open_api/v1.3/segment/mapping/"))
    assert is_permanent_tiktok_error(coded(40001, endpoint="/open_api/v1.3/segment/audience/"))


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_http_5xx_and_429_are_transient(status):
    # As check_response raises them, and as a bare TikTokApiError with the status would say.
    assert is_transient(TikTokRetryableError(code=None, message=f"HTTP {status}", request_id="", endpoint="/x",
                                             http_status=status))
    assert is_transient(TikTokApiError(code=None, message=f"HTTP {status}", request_id="", endpoint="/x",
                                       http_status=status))


@pytest.mark.parametrize("status", [400, 403, 404, 413])
def test_other_http_errors_are_permanent(status):
    assert is_permanent_tiktok_error(TikTokApiError(code=None, message=f"HTTP {status}", request_id="",
                                                    endpoint="/x", http_status=status))


def test_malformed_envelope_is_transient():
    error = TikTokRetryableError(code=None, message="malformed response (not a TikTok JSON envelope)",
                                 request_id="", endpoint="/x", http_status=200)
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [requests.exceptions.ConnectionError("reset"), requests.exceptions.ReadTimeout("slow"),
     requests.exceptions.ChunkedEncodingError("cut")],
    ids=type,
)
def test_connection_errors_are_transient_and_not_tiktok_answers(error):
    assert is_transient(error)
    assert not is_permanent_tiktok_error(error)  # not an answer from TikTok at all


def test_other_exceptions_are_neither():
    assert not is_transient(ValueError("bug"))
    assert not is_permanent_tiktok_error(ValueError("bug"))


def test_permanent_error_text_keeps_code_message_and_request_id():
    text = str(coded(40002, message="Parameter error: file_paths"))
    assert "40002" in text and "Parameter error: file_paths" in text and "req-1" in text


@pytest.mark.parametrize(
    "message",
    ["Parameter error: invalid audience ID", "Invalid custom_audience_ids", "invalid custom audience id",
     "The audience does not exist", "Audience ID 7399 does not exist", "audience not found"],
)
def test_unknown_audience_wording_of_40002_is_recognised(message):
    assert is_unknown_audience_refusal(
        coded(40002, endpoint="/open_api/v1.3/dmp/custom_audience/get/", message=message)
    )


@pytest.mark.parametrize(
    ("code", "message"),
    [(40002, "Parameter error: file_paths is invalid"), (40002, "advertiser_id is invalid"),
     (40002, "The audience is currently being updated or under processing"),
     (40002, "Parameter error: audience_size should be in range"), (40000, "Parameter error: invalid audience ID"),
     (40007, "invalid audience ID")],
)
def test_other_refusals_are_not_unknown_audience(code, message):
    assert not is_unknown_audience_refusal(coded(code, message=message))


def test_unknown_audience_predicate_ignores_non_tiktok_errors():
    assert not is_unknown_audience_refusal(ValueError("invalid audience ID"))


# -- TikTok's two audience causes of 40002 (its return-code appendix): busy, too few matches

BUSY = "The audience is currently being updated or under processing."
TOO_FEW = "The audience was created with an audience size of 0 (less than 1000 matches were found)."


@pytest.mark.parametrize(
    "message", [BUSY, "Parameter error: audience 7300 is being updated", "audience under processing"]
)
def test_busy_wording_of_40002_is_busy_and_transient(message):
    from tiktok_audiences.tiktok.errors import TikTokAudienceBusy, is_busy_refusal

    error = coded(40002, message=message)
    assert isinstance(error, TikTokAudienceBusy) and is_busy_refusal(error)
    assert is_transient(error) and not is_permanent_tiktok_error(error)


@pytest.mark.parametrize("message", [TOO_FEW, "fewer than 1,000 matched users", "audience size of 0"])
def test_too_few_matches_wording_of_40002_is_permanent(message):
    from tiktok_audiences.tiktok.errors import TikTokTooFewMatches, is_too_few_matches_refusal

    error = coded(40002, message=message)
    assert isinstance(error, TikTokTooFewMatches) and is_too_few_matches_refusal(error)
    assert is_permanent_tiktok_error(error)


@pytest.mark.parametrize(
    ("code", "message"),
    [(40002, "Parameter error: file_paths is invalid"), (40002, "Time format should be %Y-%m-%dT%H:%M."),
     (40002, "Parameter error: the audience must have at least 1,000 records; this request would leave 900."),
     (40002, "Parameter error: audience 7 has an unfinished replace operation."), (40000, BUSY), (50000, BUSY),
     (40007, TOO_FEW)],
)
def test_other_refusals_are_neither_busy_nor_too_few_matches(code, message):
    from tiktok_audiences.tiktok.errors import (
        TikTokAudienceBusy,
        TikTokTooFewMatches,
        is_busy_refusal,
        is_too_few_matches_refusal,
    )

    error = coded(code, message=message)
    assert not is_busy_refusal(error) and not is_too_few_matches_refusal(error)
    assert not isinstance(error, (TikTokAudienceBusy, TikTokTooFewMatches))
