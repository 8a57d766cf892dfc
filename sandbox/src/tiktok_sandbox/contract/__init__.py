"""TikTok's API contract as data (``tiktok_api.json``) and the checks the sandbox runs on every call.

Every request is checked before its handler runs (:func:`check_request`) and every successful
answer's ``data`` after it (:func:`check_response`), which catches a sandbox that invents a field.

The schemas are transcribed from TikTok's own endpoint specs (tiktok/tiktok-business-api-sdk
``yml_files/``), from its generated SDK code where no yml exists (OAuth), and from partner code for
the Audience Segment API (bububa/tiktok-business ``model/dmp/segment_*.go``); each entry names its
source in ``x-source``. Test tooling only: the client (``tiktok_audiences``) must not import this
module, so a contract mistake can never break a production sync.

Problems are worded without the values sent (apart from an enum value, which names the choice):
a request may carry hashes, names or tokens, and a violation is kept in the sandbox state.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

#: Payload kinds whose values arrive as strings and are decoded per the schema before validating.
_STRING_PAYLOADS = ("query", "multipart/form-data")


#: Violation kinds: a request the client sent, or a response ``data`` the sandbox sent.
REQUEST, RESPONSE = "request", "response"


@dataclass(frozen=True)
class Violation:
    """One way a call broke the contract: ``field`` is a path like ``file_paths[0]``.

    ``kind`` is ``"request"`` (the caller is wrong) or ``"response"`` (the sandbox is wrong).
    """

    endpoint: str
    field: str
    problem: str
    kind: str = REQUEST

    def message(self) -> str:
        """TikTok's 40002 wording: ``Parameter error: <field>: <problem>``."""
        return f"Parameter error: {self.field}: {self.problem}"


@cache
def load_contract() -> dict[str, Any]:
    """The parsed ``tiktok_api.json`` (read once)."""
    text = files(__package__).joinpath("tiktok_api.json").read_text(encoding="utf-8")
    contract: dict[str, Any] = json.loads(text)
    return contract


def _key(path: str) -> str:
    return "/" + path.strip("/") + "/"


def endpoint_contract(path: str) -> dict[str, Any] | None:
    """The contract entry of an endpoint path (with or without slashes), or None if it has none."""
    entry: dict[str, Any] | None = load_contract()["endpoints"].get(_key(path))
    return entry


@cache
def _validator(key: str, part: str) -> Draft202012Validator | None:
    """The validator of an endpoint's ``request`` or ``response``; the document's ``$defs`` resolve."""
    contract = load_contract()
    schema = contract["endpoints"][key].get(part)
    if schema is None:
        return None
    return Draft202012Validator({"$defs": contract.get("$defs", {}), **schema})


def _decode_value(value: Any, schema: dict[str, Any]) -> Any:
    """A string-borne value as the schema's type, the way TikTok reads it; left as is when it does not decode."""
    if not isinstance(value, str):
        return value
    kind = schema.get("type")
    try:
        if kind in ("array", "object"):
            return json.loads(value)  # e.g. custom_audience_ids=["123","456"] (docs/decisions.md, GET arrays)
        if kind == "integer":
            return int(value.strip())
        if kind == "number":
            return float(value.strip())
    except ValueError:
        return value
    if kind == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def decode(path: str, params: dict[str, Any]) -> dict[str, Any]:
    """Query or multipart fields decoded per the contract's property types; JSON bodies unchanged."""
    entry = endpoint_contract(path)
    if entry is None or entry.get("payload") not in _STRING_PAYLOADS:
        return params
    properties = entry["request"].get("properties", {})
    return {name: _decode_value(value, properties.get(name, {})) for name, value in params.items()}


def _field_path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _describe(error: ValidationError, kind_of_call: str = REQUEST) -> tuple[str, str]:
    """(field path, problem) without the value sent, except an enum choice."""
    field = _field_path(error.absolute_path)
    kind, expected = error.validator, error.validator_value
    if kind == "required":
        # jsonschema reports one error per missing name and names it only in its message.
        match = re.match(r"^'(.+)' is a required property$", error.message)
        missing = match.group(1) if match else "?"
        return _join(field, missing), "is required"
    if kind == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        extra = sorted(name for name in error.instance if name not in known)
        problem = "is not a parameter of this endpoint" if kind_of_call == REQUEST else "is not a field TikTok answers"
        return _join(field, extra[0] if extra else "?"), problem
    problems = {
        "enum": lambda: f"{error.instance!r} is not one of {list(expected)}",
        "type": lambda: f"should be of type {expected}",
        "minLength": lambda: f"should have at least {expected} characters",
        "maxLength": lambda: f"should have at most {expected} characters",
        "minItems": lambda: f"should have at least {expected} items",
        "maxItems": lambda: f"should have at most {expected} items",
        "minimum": lambda: f"should be at least {expected}",
        "maximum": lambda: f"should be at most {expected}",
        "maxProperties": lambda: "should carry no field" if expected == 0 else f"should have at most {expected} fields",
    }
    problem = problems.get(str(kind), lambda: f"does not satisfy {kind}")()
    return field or "(body)", problem


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def check_request(path: str, params: dict[str, Any]) -> list[Violation]:
    """Every contract violation of one request (already decoded from JSON/query/multipart); [] if none.

    Endpoints without a contract entry are not checked. String-borne values are decoded first
    (:func:`decode`), so pass query and multipart fields as they arrived.
    """
    if endpoint_contract(path) is None:
        return []
    return _check(path, REQUEST, decode(path, params))


def check_response(path: str, data: Any) -> list[Violation]:
    """Every way a successful answer's ``data`` breaks the contract (kind ``"response"``); [] if none."""
    if endpoint_contract(path) is None:
        return []
    return _check(path, RESPONSE, data)


def _check(path: str, part: str, instance: Any) -> list[Violation]:
    validator = _validator(_key(path), part)
    if validator is None:
        return []
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    violations = [Violation(_key(path), *_describe(error, part), kind=part) for error in errors]
    if part == RESPONSE:  # name response fields from the envelope: data.list[0].audience_details.type
        violations = [replace(v, field="data" if v.field == "(body)" else f"data.{v.field}") for v in violations]
    return violations
