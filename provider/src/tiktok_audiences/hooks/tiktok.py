"""Hook for TikTok's Marketing API (custom audiences: customer files and partner segments; OAuth).

.. seealso::
    https://business-api.tiktok.com/portal/docs (Audience Management, Authentication)
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlparse

import requests
import tenacity
from airflow.providers.http.hooks.http import HttpHook, _process_extra_options_from_connection
from airflow.sdk.log import mask_secret

from tiktok_audiences.tiktok.errors import (
    TikTokApiError,
    TikTokAudienceBusy,
    TikTokAudienceNotFound,
    TikTokIntegrationError,
    TikTokRetryableError,
    error_for_code,
    is_busy_refusal,
    is_transient,
    is_unknown_audience_refusal,
)
from tiktok_audiences.tiktok.partner import APIS, DEFAULT_API

log = logging.getLogger(__name__)

#: Envelope codes meaning "success" (20001 is TikTok's partial success, logged as a warning).
_SUCCESS_CODES = frozenset({0, 20001})
_DEFAULT_TIMEOUT = (10, 300)  # connect, read (seconds): uploads of large files take a while
#: Requests per second one hook sends at most, unless the connection extra sets ``max_qps``. TikTok's
#: Basic app tier allows 10 QPS per app; a pool of N slots shared by an integration's audiences keeps
#: the app at most N × max_qps.
DEFAULT_MAX_QPS = 5.0
#: How long one update waits for TikTok to finish processing the audience's previous change before
#: the sync stops and leaves the rest to the next run (connection extra ``busy_wait_seconds``).
#: TikTok refuses updates while an audience "is currently being updated or under processing"; its
#: processing can take hours, so the wait is short and the next run carries on.
DEFAULT_BUSY_WAIT_SECONDS = 120.0
#: Longest pause between two attempts while waiting out a busy audience.
_BUSY_POLL_MAX_SECONDS = 30.0


@dataclass(frozen=True)
class TikTokIntegration:
    """The non-secret half of an integration connection (the token stays in the connection)."""

    conn_id: str
    advertiser_id: str
    app_id: str | None
    base_url: str
    max_qps: float = DEFAULT_MAX_QPS
    #: ``customer_file`` or ``partner`` from the extra ``api``; None when the extra does not say
    api: str | None = None


class TikTokHook(HttpHook):
    """
    Talk to TikTok's Marketing API on behalf of one integration (one advertiser).

    The connection (conn type ``tiktok_ads``) holds the access token as its password, the API base
    URL as its host (default ``https://business-api.tiktok.com``) and, in its extra:

    .. code-block:: json

        {"advertiser_id": "7200000000000000001", "app_id": "7100000000000000001"}

    Unlike the plain :class:`~airflow.providers.http.hooks.http.HttpHook`, connection extras are
    never sent as HTTP headers: only the ``Access-Token`` header is.

    :param tiktok_conn_id: connection id of the integration
    :param max_attempts: attempts per request for rate-limit and transient errors
    :param backoff_seconds: base of the exponential backoff (with full jitter) between attempts
    :param backoff_max_seconds: upper bound of one wait between attempts
    """

    conn_name_attr = "tiktok_conn_id"
    default_conn_name = "tiktok_default"
    conn_type = "tiktok_ads"
    hook_name = "TikTok Ads"
    default_host = "https://business-api.tiktok.com"
    api_version = "v1.3"

    def __init__(
        self,
        tiktok_conn_id: str = default_conn_name,
        *,
        max_attempts: int = 6,
        backoff_seconds: float = 1.0,
        backoff_max_seconds: float = 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(method="POST", http_conn_id=tiktok_conn_id, **kwargs)
        self.tiktok_conn_id = tiktok_conn_id
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self._last_request_at = 0.0

    # -- connection ---------------------------------------------------------------------------

    @cached_property
    def _connection(self):
        try:
            return self.get_connection(self.tiktok_conn_id)
        except Exception as err:  # AirflowNotFoundException and secrets-backend failures alike
            raise TikTokIntegrationError(
                f"TikTok integration '{self.tiktok_conn_id}' does not exist (its connection is "
                f"missing or was deleted). Audiences of a deleted integration stop updating; set the "
                f"integration up again to resume ({type(err).__name__})."
            ) from err

    @cached_property
    def integration(self) -> TikTokIntegration:
        """Advertiser, app and base URL of the integration; checks that a token is present."""
        conn = self._connection
        extra = conn.extra_dejson
        advertiser_id = _extra_value(extra, "advertiser_id")
        if conn.password:
            # Airflow masks connection passwords it hands to tasks; masking here as well covers
            # hooks used outside a task (CLI, API server) and any future log line.
            mask_secret(conn.password)
        if not conn.password:
            raise TikTokIntegrationError(
                f"TikTok integration '{self.tiktok_conn_id}' has no access token. Set the integration "
                f"up (or resync it) so that its connection holds a token."
            )
        if not advertiser_id:
            raise TikTokIntegrationError(
                f"TikTok integration '{self.tiktok_conn_id}' has no advertiser_id. Add the ad account id "
                f"to the connection extra, e.g. {{\"advertiser_id\": \"7200000000000000001\"}}."
            )
        self._set_base_url(conn)
        try:
            raw_qps = extra.get("max_qps")
            max_qps = DEFAULT_MAX_QPS if raw_qps in (None, "") else float(raw_qps)  # 0 turns pacing off
        except (TypeError, ValueError):
            raise TikTokIntegrationError(
                f"TikTok integration '{self.tiktok_conn_id}': extra max_qps={extra.get('max_qps')!r} is not a "
                f"number. Set it to the requests per second one sync may send, e.g. 5."
            ) from None
        api = _extra_value(extra, "api")
        if api is not None and api.strip().lower() not in APIS:
            raise TikTokIntegrationError(
                f"TikTok integration '{self.tiktok_conn_id}': extra api={api!r} is not one of {', '.join(APIS)}. "
                f"Set it to customer_file (files, works for every app) or partner (TikTok's Audience Segment API), "
                f"or remove it to use {DEFAULT_API}."
            )
        return TikTokIntegration(
            conn_id=self.tiktok_conn_id,
            advertiser_id=str(advertiser_id),
            app_id=_extra_value(extra, "app_id"),
            base_url=self.base_url,
            max_qps=max_qps,
            api=api.strip().lower() if api else None,
        )

    def _pace(self) -> None:
        """Keep this hook under the integration's ``max_qps`` (TikTok throttles per app, 40100)."""
        max_qps = self.integration.max_qps if "integration" in self.__dict__ else DEFAULT_MAX_QPS
        if max_qps <= 0:
            return
        wait = self._last_request_at + 1.0 / max_qps - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_request_at = time.monotonic()

    def run(self, *args: Any, **kwargs: Any) -> Any:
        self._pace()  # every attempt, retries included
        return super().run(*args, **kwargs)

    @property
    def advertiser_id(self) -> str:
        return self.integration.advertiser_id

    def _configure_session_from_auth(self, session: requests.Session, connection) -> requests.Session:
        # TikTok authenticates with an Access-Token header, never HTTP basic auth.
        session.auth = None
        if connection.password:
            session.headers["Access-Token"] = connection.password
        return session

    def _configure_session_from_extra(self, session: requests.Session, connection, extra_options):
        # HttpHook copies every unknown extra key into the request headers; ours (advertiser_id,
        # app_id, ...) must never travel to TikTok, so only the request options are kept.
        _headers_from_extra, self.merged_extra = _process_extra_options_from_connection(connection, extra_options)
        session.proxies = self.merged_extra.get("proxies", self.merged_extra.get("proxy", {}))
        session.stream = self.merged_extra.get("stream", False)
        session.verify = self.merged_extra.get("verify", self.merged_extra.get("verify_ssl", True))
        session.cert = self.merged_extra.get("cert", None)
        session.trust_env = self.merged_extra.get("trust_env", True)
        if not session.verify and not _is_local(self.base_url):
            raise TikTokIntegrationError(
                f"TikTok integration '{self.tiktok_conn_id}' disables TLS verification for "
                f"{urlparse(self.base_url).hostname}; that is only allowed for local test servers. "
                f"Remove 'verify' from the connection extra."
            )
        self.merged_extra.setdefault("timeout", _DEFAULT_TIMEOUT)
        return session

    # -- transport ----------------------------------------------------------------------------

    def _endpoint(self, path: str) -> str:
        return f"open_api/{self.api_version}/{path.strip('/')}/"

    def check_response(self, response: requests.Response) -> None:
        """Check the HTTP status and TikTok's envelope; raise a typed error for anything but success.

        HttpHook's own check logs the response body on errors; TikTok bodies are not logged here.
        """
        endpoint = urlparse(response.url).path
        if response.status_code >= 500 or response.status_code == 429:
            raise TikTokRetryableError(
                code=None, message=f"HTTP {response.status_code} {response.reason}", request_id=_log_id(response),
                endpoint=endpoint, http_status=response.status_code,
            )
        if response.status_code >= 400:
            raise TikTokApiError(
                code=None, message=f"HTTP {response.status_code} {response.reason}", request_id=_log_id(response),
                endpoint=endpoint, http_status=response.status_code,
            )
        try:
            body = response.json()
            code = int(body["code"])
        except (ValueError, KeyError, TypeError):
            # A truncated or non-JSON body comes from a proxy or a failing edge, not from TikTok's API
            # logic: worth another attempt.
            raise TikTokRetryableError(
                code=None, message="malformed response (not a TikTok JSON envelope)",
                request_id=_log_id(response), endpoint=endpoint, http_status=response.status_code,
            ) from None
        if code in _SUCCESS_CODES:
            if code == 20001:
                log.warning("TikTok reported partial success on %s: %s", endpoint, body.get("message"))
            return
        raise error_for_code(
            code=code,
            message=str(body.get("message") or ""),
            request_id=str(body.get("request_id") or _log_id(response) or ""),
            endpoint=endpoint,
            conn_id=self.tiktok_conn_id,
        )

    def _retry_args(self) -> dict[str, Any]:
        # The connection may tune the backoff (e.g. shorter against a local test server).
        extra = self._connection.extra_dejson
        base = float(extra.get("retry_backoff_seconds", self.backoff_seconds))
        return {
            "stop": tenacity.stop_after_attempt(self.max_attempts),
            "wait": tenacity.wait_random_exponential(multiplier=base, max=self.backoff_max_seconds),
            "retry": tenacity.retry_if_exception(_is_transient),
            "before_sleep": _log_retry,
            "reraise": True,
        }

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: dict[str, Any] | None = None,
        form: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
        authenticated: bool = True,
        retry: bool = True,
    ) -> dict[str, Any]:
        """Send one request to ``/open_api/v1.3/<path>/`` and return the envelope's ``data``.

        :param retry: retry rate-limit and transient failures; pass False for requests that must not
            be repeated blindly (creating an audience).
        """
        self.method = method.upper()
        if authenticated:
            self.integration  # noqa: B018 - fail early, with a clear message, on a broken integration
        kwargs: dict[str, Any] = {}
        if json_body is not None:
            kwargs["json"] = json_body
        if files is not None:
            kwargs["files"] = files
        data = params if self.method == "GET" else form
        headers = None if authenticated else {"Access-Token": None}
        if retry:
            response = self.run_with_advanced_retry(
                self._retry_args(), endpoint=self._endpoint(path), data=data, headers=headers, **kwargs
            )
        else:
            response = self.run(endpoint=self._endpoint(path), data=data, headers=headers, **kwargs)
        return response.json().get("data") or {}

    # -- customer-file audiences --------------------------------------------------------------

    def upload_file(self, content: bytes, *, calculate_type: str, file_name: str) -> str:
        """Upload a customer file; returns its ``file_path`` for create/update."""
        signature = hashlib.md5(content, usedforsecurity=False).hexdigest()
        data = self.call(
            "POST",
            "dmp/custom_audience/file/upload",
            form={
                "advertiser_id": self.advertiser_id,
                "calculate_type": calculate_type,
                "file_signature": signature,
            },
            files={"file": (file_name, content, "text/csv")},
        )
        return str(data["file_path"])

    def create_audience(
        self,
        name: str,
        *,
        calculate_type: str,
        file_paths: Sequence[str],
        retention_in_days: int | None = None,
        audience_enhancement: bool | None = None,
    ) -> str:
        """Create a customer-file audience from uploaded files; returns ``custom_audience_id``.

        Not retried on ambiguous failures: a create whose response was lost may have happened, and a
        blind retry would make a second audience. The operator reconciles by name instead.

        :param retention_in_days: 1–365; the audience then expires that many days after creation and
            nothing resets it (tiktok/tiktok-business-api-sdk yml_files/dmp_custom_audience_create.yml)
        :param audience_enhancement: TikTok's ``audience_enhancement`` (boolean, default false, same yml)
        Either is sent only when set, so TikTok's defaults apply otherwise.
        """
        body: dict[str, Any] = {
            "advertiser_id": self.advertiser_id,
            "custom_audience_name": name,
            "calculate_type": calculate_type,
            "file_paths": list(file_paths),
        }
        if retention_in_days is not None:
            body["retention_in_days"] = int(retention_in_days)
        if audience_enhancement is not None:
            body["audience_enhancement"] = bool(audience_enhancement)
        data = self.call("POST", "dmp/custom_audience/create", json_body=body, retry=False)
        return str(data["custom_audience_id"])

    def update_audience(self, audience_id: str, *, file_paths: Sequence[str], action: str) -> None:
        """APPEND, REMOVE or REPLACE the records of uploaded files (all three are idempotent).

        While TikTok is still processing the audience's previous change it refuses the update
        (40002 "being updated or under processing"); the update is then tried again with growing
        pauses for at most ``busy_wait_seconds`` (connection extra, default 120), after which
        :class:`TikTokAudienceBusy` is raised: nothing of this update was applied.
        """
        if action not in ("APPEND", "REMOVE", "REPLACE"):
            raise ValueError(f"unknown update action {action!r}")
        body = {
            "advertiser_id": self.advertiser_id,
            "custom_audience_id": audience_id,
            "file_paths": list(file_paths),
            "action": action,
        }
        self._wait_out_busy(lambda: self.call("POST", "dmp/custom_audience/update", json_body=body))

    @property
    def busy_wait_seconds(self) -> float:
        raw = self._connection.extra_dejson.get("busy_wait_seconds")
        try:
            value = DEFAULT_BUSY_WAIT_SECONDS if raw in (None, "") else float(raw)
        except (TypeError, ValueError):
            value = -1.0
        if value < 0:
            raise TikTokIntegrationError(
                f"TikTok integration '{self.tiktok_conn_id}': extra busy_wait_seconds={raw!r} is not a number of "
                f"seconds. Set it to how long an update may wait for TikTok to finish processing, e.g. 120 (0: no wait)."
            )
        return value

    def _wait_out_busy(self, send: Any) -> Any:
        """Send, and while TikTok answers "busy", send again after a pause, for a bounded time."""
        budget = self.busy_wait_seconds
        pause = float(self._connection.extra_dejson.get("retry_backoff_seconds", self.backoff_seconds))
        waited = 0.0
        while True:
            try:
                return send()
            except TikTokAudienceBusy as err:
                if waited + pause > budget:
                    err.waited_seconds = waited
                    raise
                log.warning("TikTok is still processing the audience (%s); trying again in %.1f s", err, pause)
                time.sleep(pause)
                waited += pause
                pause = min(pause * 2, _BUSY_POLL_MAX_SECONDS)

    def rename_audience(self, audience_id: str, name: str) -> None:
        self.call(
            "POST",
            "dmp/custom_audience/update",
            json_body={"advertiser_id": self.advertiser_id, "custom_audience_id": audience_id, "custom_audience_name": name},
        )

    def get_audiences(self, audience_ids: Sequence[str]) -> list[dict[str, Any]]:
        """``audience_details`` of each id TikTok knows (unknown ids are simply absent)."""
        details: list[dict[str, Any]] = []
        for start in range(0, len(audience_ids), 100):  # TikTok takes at most 100 ids per call
            chunk = [str(i) for i in audience_ids[start : start + 100]]
            data = self.call(
                "GET",
                "dmp/custom_audience/get",
                params={
                    "advertiser_id": self.advertiser_id,
                    "custom_audience_ids": json.dumps(chunk),
                    "history_size": 1,
                },
            )
            details += [item.get("audience_details", item) for item in data.get("list") or []]
        return details

    def get_audience(self, audience_id: str) -> dict[str, Any]:
        """One audience's details; raises :class:`TikTokAudienceNotFound` if TikTok no longer has it.

        TikTok's get spec does not document the answer for an unknown id; two shapes are seen and
        both count: the id absent from ``list``, or the whole request refused with 40002
        "Parameter error: invalid audience ID" (see :func:`is_unknown_audience_refusal`).
        """
        try:
            found = self.get_audiences([audience_id])
        except TikTokApiError as err:
            if not is_unknown_audience_refusal(err):
                raise
            raise TikTokAudienceNotFound(
                code=err.code, message=err.tiktok_message, request_id=err.request_id, endpoint=err.endpoint,
                http_status=err.http_status,
            ) from err
        for details in found:
            if str(details.get("audience_id")) == str(audience_id):
                return details
        raise TikTokAudienceNotFound(
            code=40007, message=f"audience {audience_id} does not exist on TikTok", request_id="",
            endpoint="dmp/custom_audience/get", http_status=200,
        )

    def list_audiences(self, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every audience of the advertiser, following TikTok's pagination."""
        page = 1
        while True:
            data = self.call(
                "GET",
                "dmp/custom_audience/list",
                params={"advertiser_id": self.advertiser_id, "page": page, "page_size": page_size},
            )
            yield from data.get("list") or []
            total_page = int((data.get("page_info") or {}).get("total_page") or 1)
            if page >= total_page:
                return
            page += 1

    def delete_audiences(self, audience_ids: Sequence[str]) -> None:
        for start in range(0, len(audience_ids), 100):
            self.call(
                "POST",
                "dmp/custom_audience/delete",
                json_body={
                    "advertiser_id": self.advertiser_id,
                    "custom_audience_ids": [str(i) for i in audience_ids[start : start + 100]],
                },
            )

    # -- lookalike audiences ------------------------------------------------------------------

    def create_lookalike(self, name: str, *, lookalike_spec: dict[str, Any]) -> str:
        """Create a lookalike audience of an existing (seed) audience; returns its ``custom_audience_id``.

        ``lookalike_spec`` is TikTok's object: ``source_audience_id``, ``include_source``,
        ``mobile_os``, ``placements``, ``location_ids``, ``audience_size`` (all required).
        Not retried on ambiguous failures, like :meth:`create_audience`: the operator finds an
        interrupted create by name instead.

        .. seealso:: https://business-api.tiktok.com/portal/docs?id=1739940511844353
        """
        data = self.call(
            "POST",
            "dmp/custom_audience/lookalike/create",
            json_body={
                "advertiser_id": self.advertiser_id,
                "custom_audience_name": name,
                "lookalike_spec": dict(lookalike_spec),
            },
            retry=False,
        )
        return str(data["custom_audience_id"])

    def refresh_lookalikes(self, audience_ids: Sequence[str]) -> None:
        """Have TikTok rebuild lookalikes from their seed's current members (the spec stays as it is).

        .. seealso:: https://ads.tiktok.com/marketing_api/docs?id=1758616888158209
        """
        self.call(
            "POST",
            "dmp/custom_audience/lookalike/update",
            json_body={"advertiser_id": self.advertiser_id, "custom_audience_ids": [str(i) for i in audience_ids]},
        )

    # -- partner audiences (Audience Segment API) ---------------------------------------------

    def create_partner_audience(self, name: str) -> str:
        """Create an empty Partner audience with ``/segment/audience/``; returns its ``audience_id``.

        Not retried on ambiguous failures, like :meth:`create_audience`: TikTok allows duplicate
        names, so a replayed create would make a second audience. The operator reconciles by name.
        """
        data = self.call(
            "POST",
            "segment/audience",
            json_body={"advertiser_id": self.advertiser_id, "action": "create", "custom_audience_name": name},
            retry=False,
        )
        return str(data["audience_id"])

    def delete_partner_audience(self, audience_id: str) -> None:
        self.call(
            "POST",
            "segment/audience",
            json_body={"advertiser_id": self.advertiser_id, "action": "delete", "delete_audience_id": str(audience_id)},
        )

    def map_members(self, *, action: str, id_schema: Sequence[str], batch_data: list[list[dict[str, Any]]]) -> int:
        """Add or delete users in Partner audiences with ``/segment/mapping/``; returns the body's size.

        Both actions are idempotent (adding a member twice or deleting an absent one changes
        nothing), so the request is retried like any other.
        """
        if action not in ("add", "delete"):
            raise ValueError(f"unknown mapping action {action!r}")
        body = {
            "advertiser_ids": [self.advertiser_id],
            "action": action,
            "id_schema": list(id_schema),
            "batch_data": batch_data,
        }
        self.call("POST", "segment/mapping", json_body=body)
        return len(json.dumps(body, separators=(",", ":")))

    # -- OAuth --------------------------------------------------------------------------------

    def exchange_auth_code(self, *, app_id: str, secret: str, auth_code: str) -> dict[str, Any]:
        """Exchange an advertiser authorization ``auth_code`` for a long-term access token."""
        return self.call(
            "POST",
            "oauth2/access_token",
            json_body={"app_id": app_id, "secret": secret, "auth_code": auth_code},
            authenticated=False,
            retry=False,  # an auth_code is single-use
        )

    def get_authorized_advertisers(self, *, app_id: str, secret: str) -> list[dict[str, Any]]:
        data = self.call("GET", "oauth2/advertiser/get", params={"app_id": app_id, "secret": secret})
        return list(data.get("list") or [])

    def test_connection(self) -> tuple[bool, str]:
        try:
            advertisers = self.list_audiences(page_size=1)
            next(advertisers, None)
        except TikTokApiError as err:
            return False, str(err)
        return True, "Connection successfully tested"


def _extra_value(extra: dict[str, Any], key: str) -> str | None:
    # Forms of Airflow < 3.2 stored custom fields as extra__<conn_type>__<field>.
    value = extra.get(key) or extra.get(f"extra__tiktok_ads__{key}")
    return str(value) if value not in (None, "") else None


def _log_id(response: requests.Response) -> str:
    return response.headers.get("X-Tt-Logid", "")


def _is_local(base_url: str) -> bool:
    host = urlparse(base_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_transient(error: BaseException) -> bool:
    # A busy audience is waited out by update_audience with its own, longer budget.
    return is_transient(error) and not is_busy_refusal(error)


def _log_retry(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0
    log.warning(
        "TikTok request failed (attempt %d): %s; retrying in %.1f s",
        state.attempt_number,
        error if isinstance(error, TikTokApiError) else type(error).__name__,
        wait,
    )
