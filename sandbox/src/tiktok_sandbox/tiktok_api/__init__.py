"""TikTok Marketing API v1.3 (``/open_api/v1.3/...``): the routes, their pipeline and handlers.

* :mod:`~tiktok_sandbox.tiktok_api.routes`: :data:`ENDPOINTS` and the pipeline every call goes
  through (faults, token, QPS limit, decoding, TikTok's contract, handler, envelope);
* :mod:`~tiktok_sandbox.tiktok_api.context`: what a handler receives, the envelope, and the
  advertiser / scope / app-credential checks the handlers share;
* the handlers by endpoint family: :mod:`~tiktok_sandbox.tiktok_api.oauth` (OAuth and account),
  :mod:`~tiktok_sandbox.tiktok_api.customer_files` (customer-file audiences),
  :mod:`~tiktok_sandbox.tiktok_api.lookalikes` and :mod:`~tiktok_sandbox.tiktok_api.segments`
  (Partner audiences of the Audience Segment API).

The names the app and the tests use are re-exported here.
"""

from tiktok_sandbox.tiktok_api.context import CallContext, UploadedPart, envelope, format_time, new_request_id
from tiktok_sandbox.tiktok_api.routes import API_PREFIX, ENDPOINTS, LOG_CODE_ATTRIBUTE, Endpoint, register_tiktok_routes

__all__ = [
    "API_PREFIX",
    "ENDPOINTS",
    "LOG_CODE_ATTRIBUTE",
    "CallContext",
    "Endpoint",
    "UploadedPart",
    "envelope",
    "format_time",
    "new_request_id",
    "register_tiktok_routes",
]
