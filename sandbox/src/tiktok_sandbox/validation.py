"""Parameter checks that turn malformed requests into TikTok's 40002 "Parameter error".

TikTok validates requests against strict schemas (its OpenAPI fragments mark ids as strings,
enums as strict and list lengths as bounded), and reports a violation as code 40002 naming the
field. These helpers do the same for JSON bodies, multipart fields and query strings alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Any

from tiktok_sandbox.errors import ApiError, Code, parameter_error

# TikTok ids are int64 values carried as strings.
_ID_PATTERN = re.compile(r"[0-9]{1,19}")
_MISSING = object()

Params = Mapping[str, Any]


def _present(params: Params, name: str) -> Any:
    value = params.get(name, _MISSING)
    return _MISSING if value is None or value == "" else value


def require_string(params: Params, name: str, *, max_length: int | None = None) -> str:
    """Return a required, non-empty string parameter."""
    value = _present(params, name)
    if value is _MISSING:
        raise parameter_error(name, "is required")
    return _check_string(name, value, max_length)


def optional_string(params: Params, name: str, *, max_length: int | None = None) -> str | None:
    """Return an optional string parameter, or None when it is absent."""
    value = _present(params, name)
    return None if value is _MISSING else _check_string(name, value, max_length)


def _check_string(name: str, value: Any, max_length: int | None) -> str:
    if not isinstance(value, str):
        raise parameter_error(name, "should be a string")
    if not value.strip():
        raise parameter_error(name, "should not be blank")
    if max_length is not None and len(value) > max_length:
        raise parameter_error(name, f"should be at most {max_length} characters")
    return value


def check_id(name: str, value: Any) -> str:
    """Check that ``value`` is an id: a string of digits (ids exceed 2**53, so never a number)."""
    if not isinstance(value, str):
        raise parameter_error(name, 'should be a string of digits, e.g. "7200000000000000001"')
    if not _ID_PATTERN.fullmatch(value):
        raise parameter_error(name, f"{value!r} is not a valid ID")
    return value


def require_id(params: Params, name: str) -> str:
    """Return a required id parameter."""
    value = _present(params, name)
    if value is _MISSING:
        raise parameter_error(name, "is required")
    return check_id(name, value)


def require_enum(
    params: Params,
    name: str,
    allowed: Collection[str],
    *,
    default: str | None = None,
    code: int = Code.PARAMETER_ERROR,
) -> str:
    """Return an enum parameter; unknown values raise ``code`` (40002 unless told otherwise)."""
    value = _present(params, name)
    if value is _MISSING:
        if default is None:
            raise parameter_error(name, "is required")
        return default
    if not isinstance(value, str) or value not in allowed:
        choices = ", ".join(sorted(allowed))
        if code == Code.PARAMETER_ERROR:
            raise parameter_error(name, f"{value!r} is not one of {choices}")
        raise ApiError(code, f"{name} {value!r} is not supported; use one of {choices}.")
    return value


def optional_int(params: Params, name: str, *, default: int | None, minimum: int, maximum: int | None) -> int | None:
    """Return an integer parameter (JSON number or decimal query string) within bounds."""
    value = _present(params, name)
    if value is _MISSING:
        return default
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise parameter_error(name, "should be an integer")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"[{minimum}, {maximum}]" if maximum is not None else f">= {minimum}"
        raise parameter_error(name, f"should be within {bounds}")
    return value


def optional_bool(params: Params, name: str) -> bool | None:
    """Return an optional JSON boolean."""
    value = _present(params, name)
    if value is _MISSING:
        return None
    if not isinstance(value, bool):
        raise parameter_error(name, "should be a boolean")
    return value


def require_list(params: Params, name: str, *, min_items: int, max_items: int | None) -> list[Any]:
    """Return a required JSON array with a bounded length."""
    value = params.get(name)
    if value is None:
        raise parameter_error(name, "is required")
    return check_list(name, value, min_items=min_items, max_items=max_items)


def check_list(name: str, value: Any, *, min_items: int, max_items: int | None) -> list[Any]:
    """Check that ``value`` is a list of ``min_items``..``max_items`` elements."""
    if not isinstance(value, list):
        raise parameter_error(name, "should be a list")
    if len(value) < min_items:
        raise parameter_error(name, f"should have at least {min_items} item(s)")
    if max_items is not None and len(value) > max_items:
        raise parameter_error(name, f"should have at most {max_items} items, got {len(value)}")
    return value


def require_id_list(params: Params, name: str, *, min_items: int = 1, max_items: int | None = 100) -> list[str]:
    """Return a required list of ids."""
    values = require_list(params, name, min_items=min_items, max_items=max_items)
    return [check_id(f"{name}[{index}]", value) for index, value in enumerate(values)]


def json_query_list(query: Params, name: str, *, required: bool) -> list[Any] | None:
    """Decode a list sent as a JSON string in the query, e.g. ``custom_audience_ids=["1","2"]``."""
    raw = query.get(name)
    if raw is None or raw == "":
        if required:
            raise parameter_error(name, "is required")
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise parameter_error(name, 'should be a JSON array such as ["123"]') from exc
    if not isinstance(value, list):
        raise parameter_error(name, 'should be a JSON array such as ["123"]')
    return value
