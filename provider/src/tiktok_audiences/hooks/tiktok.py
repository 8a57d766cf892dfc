"""Hook for TikTok's Marketing API (custom audiences: customer files and partner segments; OAuth).

The Airflow half of the client: the connection, the session, retries and pacing, built on the public
methods of :class:`~airflow.providers.http.hooks.http.HttpHook` (``get_conn``, ``run``,
``check_response``, ``run_with_advanced_retry``). What TikTok expects and answers lives in
:mod:`tiktok_audiences.tiktok`, without Airflow: the request payloads (:mod:`~tiktok_audiences.tiktok.payloads`),
the envelope and its typed errors (:mod:`~tiktok_audiences.tiktok.responses`, :mod:`~tiktok_audiences.tiktok.errors`),
the connection extra's settings (:mod:`~tiktok_audiences.tiktok.integration_settings`) and the retry
policy (:mod:`~tiktok_audiences.tiktok.retries`).

.. seealso::
    https://business-api.tiktok.com/portal/docs (Audience Management, Authentication)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import Any

import requests
from airflow.providers.http.hooks.http import HttpHook
from airflow.sdk.log import mask_secret

from tiktok_audiences.tiktok import payloads
from tiktok_audiences.tiktok.errors import (
    TikTokApiError,
    TikTokAudienceNotFound,
    TikTokIntegrationError,
    is_unknown_audience_refusal,
)
from tiktok_audiences.tiktok.integration_settings import (
    DEFAULT_BUSY_WAIT_SECONDS,
    DEFAULT_MAX_QPS,
    TikTokIntegration,
    busy_wait_seconds,
    check_credentials,
    check_tls_verification,
    integration_settings,
    retry_backoff_seconds,
)
from tiktok_audiences.tiktok.responses import check_envelope, envelope_data
from tiktok_audiences.tiktok.retries import Pacer, retry_args, wait_out_busy

__all__ = ["DEFAULT_BUSY_WAIT_SECONDS", "DEFAULT_MAX_QPS", "TikTokHook", "TikTokIntegration"]

log = logging.getLogger(__name__)

_DEFAULT_TIMEOUT = (10, 300)  # connect, read (seconds): uploads of large files take a while


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
    :param kwargs: passed to :class:`~airflow.providers.http.hooks.http.HttpHook` (``tcp_keep_alive``,
        ``adapter``, ...)
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
        self._pacer = Pacer()

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
        if conn.password:
            # Airflow masks connection passwords it hands to tasks; masking here as well covers
            # hooks used outside a task (CLI, API server) and any future log line.
            mask_secret(conn.password)
        extra = conn.extra_dejson
        advertiser_id = check_credentials(self.tiktok_conn_id, password=conn.password, extra=extra)
        base_url = self.url_from_endpoint(None)  # HttpHook's base URL: the connection's host, or default_host
        return integration_settings(self.tiktok_conn_id, advertiser_id=advertiser_id, extra=extra, base_url=base_url)

    @property
    def advertiser_id(self) -> str:
        return self.integration.advertiser_id

    @property
    def busy_wait_seconds(self) -> float:
        return busy_wait_seconds(self.tiktok_conn_id, self._connection.extra_dejson)

    def get_conn(
        self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None
    ) -> requests.Session:
        """HttpHook's session, with the ``Access-Token`` header as TikTok's only credential.

        HttpHook sends every connection extra it does not know (ours: ``advertiser_id``, ``app_id``,
        ...) as a header and turns a login into HTTP basic auth (apache/airflow
        ``providers/http/src/airflow/providers/http/hooks/http.py``, ``HttpHook.get_conn``); neither may
        reach TikTok, so the session's headers are set anew: requests' defaults, the token, ``headers``.
        The extra's request options (``proxies``, ``verify``, ``timeout``, ...) keep HttpHook's meaning.
        """
        session = super().get_conn(extra_options=extra_options)
        session.auth = None
        session.headers = requests.utils.default_headers()
        session.headers.update(self.default_headers)
        # Read per request, as HttpHook reads its connection: a resynced token is used at once.
        token = self.get_connection(self.http_conn_id).password
        if token:
            session.headers["Access-Token"] = token
        if headers:
            session.headers.update(headers)
        check_tls_verification(self.tiktok_conn_id, base_url=self.base_url, verify=session.verify)
        self.merged_extra.setdefault("timeout", _DEFAULT_TIMEOUT)
        return session

    # -- transport ----------------------------------------------------------------------------

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """HttpHook's request, paced under the integration's ``max_qps`` (every attempt, retries included)."""
        self._pacer.pace(self.integration.max_qps if "integration" in self.__dict__ else DEFAULT_MAX_QPS)
        return super().run(*args, **kwargs)

    def check_response(self, response: requests.Response) -> None:
        """Check the HTTP status and TikTok's envelope; raise a typed error for anything but success.

        HttpHook's own check logs the response body on errors; TikTok bodies are not logged here.
        """
        check_envelope(response, conn_id=self.tiktok_conn_id)

    def _endpoint(self, path: str) -> str:
        return f"open_api/{self.api_version}/{path.strip('/')}/"

    def _retry_args(self) -> dict[str, Any]:
        return retry_args(
            max_attempts=self.max_attempts,
            backoff_seconds=retry_backoff_seconds(self._connection.extra_dejson, self.backoff_seconds),
            backoff_max_seconds=self.backoff_max_seconds,
        )

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
        return envelope_data(response)

    # -- customer-file audiences --------------------------------------------------------------

    def upload_file(self, content: bytes, *, calculate_type: str, file_name: str) -> str:
        """Upload a customer file; returns its ``file_path`` for create/update."""
        data = self.call(
            "POST",
            "dmp/custom_audience/file/upload",
            form=payloads.file_upload_form(self.advertiser_id, content=content, calculate_type=calculate_type),
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
        body = payloads.create_audience_body(
            self.advertiser_id, name=name, calculate_type=calculate_type, file_paths=file_paths,
            retention_in_days=retention_in_days, audience_enhancement=audience_enhancement,
        )
        data = self.call("POST", "dmp/custom_audience/create", json_body=body, retry=False)
        return str(data["custom_audience_id"])

    def update_audience(self, audience_id: str, *, file_paths: Sequence[str], action: str) -> None:
        """APPEND, REMOVE or REPLACE the records of uploaded files (all three are idempotent).

        While TikTok is still processing the audience's previous change it refuses the update
        (40002 "being updated or under processing"); the update is then tried again with growing
        pauses for at most ``busy_wait_seconds`` (connection extra, default 120), after which
        :class:`TikTokAudienceBusy` is raised: nothing of this update was applied.
        """
        if action not in payloads.UPDATE_ACTIONS:
            raise ValueError(f"unknown update action {action!r}")
        body = payloads.update_audience_body(self.advertiser_id, audience_id, file_paths=file_paths, action=action)
        wait_out_busy(
            lambda: self.call("POST", "dmp/custom_audience/update", json_body=body),
            budget=self.busy_wait_seconds,
            first_pause=retry_backoff_seconds(self._connection.extra_dejson, self.backoff_seconds),
        )

    def rename_audience(self, audience_id: str, name: str) -> None:
        body = payloads.rename_audience_body(self.advertiser_id, audience_id, name)
        self.call("POST", "dmp/custom_audience/update", json_body=body)

    def get_audiences(self, audience_ids: Sequence[str]) -> list[dict[str, Any]]:
        """``audience_details`` of each id TikTok knows (unknown ids are simply absent)."""
        details: list[dict[str, Any]] = []
        for chunk in payloads.id_chunks(audience_ids):
            params = payloads.get_audiences_params(self.advertiser_id, chunk)
            data = self.call("GET", "dmp/custom_audience/get", params=params)
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
            params = payloads.list_audiences_params(self.advertiser_id, page=page, page_size=page_size)
            data = self.call("GET", "dmp/custom_audience/list", params=params)
            yield from data.get("list") or []
            total_page = int((data.get("page_info") or {}).get("total_page") or 1)
            if page >= total_page:
                return
            page += 1

    def delete_audiences(self, audience_ids: Sequence[str]) -> None:
        for chunk in payloads.id_chunks(audience_ids):
            body = payloads.delete_audiences_body(self.advertiser_id, chunk)
            self.call("POST", "dmp/custom_audience/delete", json_body=body)

    # -- lookalike audiences ------------------------------------------------------------------

    def create_lookalike(self, name: str, *, lookalike_spec: dict[str, Any]) -> str:
        """Create a lookalike audience of an existing (seed) audience; returns its ``custom_audience_id``.

        ``lookalike_spec`` is TikTok's object: ``source_audience_id``, ``include_source``,
        ``mobile_os``, ``placements``, ``location_ids``, ``audience_size`` (all required).
        Not retried on ambiguous failures, like :meth:`create_audience`: the operator finds an
        interrupted create by name instead.

        .. seealso:: https://business-api.tiktok.com/portal/docs?id=1739940511844353
        """
        body = payloads.create_lookalike_body(self.advertiser_id, name=name, lookalike_spec=lookalike_spec)
        data = self.call("POST", "dmp/custom_audience/lookalike/create", json_body=body, retry=False)
        return str(data["custom_audience_id"])

    def refresh_lookalikes(self, audience_ids: Sequence[str]) -> None:
        """Have TikTok rebuild lookalikes from their seed's current members (the spec stays as it is).

        .. seealso:: https://ads.tiktok.com/marketing_api/docs?id=1758616888158209
        """
        body = payloads.refresh_lookalikes_body(self.advertiser_id, audience_ids)
        self.call("POST", "dmp/custom_audience/lookalike/update", json_body=body)

    # -- partner audiences (Audience Segment API) ---------------------------------------------

    def create_partner_audience(self, name: str) -> str:
        """Create an empty Partner audience with ``/segment/audience/``; returns its ``audience_id``.

        Not retried on ambiguous failures, like :meth:`create_audience`: TikTok allows duplicate
        names, so a replayed create would make a second audience. The operator reconciles by name.
        """
        body = payloads.create_partner_audience_body(self.advertiser_id, name)
        data = self.call("POST", "segment/audience", json_body=body, retry=False)
        return str(data["audience_id"])

    def delete_partner_audience(self, audience_id: str) -> None:
        body = payloads.delete_partner_audience_body(self.advertiser_id, audience_id)
        self.call("POST", "segment/audience", json_body=body)

    def map_members(self, *, action: str, id_schema: Sequence[str], batch_data: list[list[dict[str, Any]]]) -> int:
        """Add or delete users in Partner audiences with ``/segment/mapping/``; returns the body's size.

        Both actions are idempotent (adding a member twice or deleting an absent one changes
        nothing), so the request is retried like any other.
        """
        if action not in payloads.MAPPING_ACTIONS:
            raise ValueError(f"unknown mapping action {action!r}")
        body = payloads.mapping_body(self.advertiser_id, action=action, id_schema=id_schema, batch_data=batch_data)
        self.call("POST", "segment/mapping", json_body=body)
        return payloads.body_size(body)

    # -- OAuth --------------------------------------------------------------------------------

    def exchange_auth_code(self, *, app_id: str, secret: str, auth_code: str) -> dict[str, Any]:
        """Exchange an advertiser authorization ``auth_code`` for a long-term access token."""
        return self.call(
            "POST",
            "oauth2/access_token",
            json_body=payloads.access_token_body(app_id=app_id, secret=secret, auth_code=auth_code),
            authenticated=False,
            retry=False,  # an auth_code is single-use
        )

    def get_authorized_advertisers(self, *, app_id: str, secret: str) -> list[dict[str, Any]]:
        params = payloads.authorized_advertisers_params(app_id=app_id, secret=secret)
        data = self.call("GET", "oauth2/advertiser/get", params=params)
        return list(data.get("list") or [])

    def test_connection(self) -> tuple[bool, str]:
        try:
            advertisers = self.list_audiences(page_size=1)
            next(advertisers, None)
        except TikTokApiError as err:
            return False, str(err)
        return True, "Connection successfully tested"
