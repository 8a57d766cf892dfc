"""The rules of one audience document: every field checked, every problem named with its fix."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from tiktok_audiences.definitions.alerts import parse_alerts
from tiktok_audiences.definitions.lookalike import parse_lookalike
from tiktok_audiences.definitions.model import (
    AUDIENCE_APIS,
    DEFAULT_INTEGRATION,
    DEFAULT_SCHEDULE,
    ID_TYPES,
    MAX_NAME_LENGTH,
    AudienceDefinition,
    DefinitionProblem,
    Problem,
)

SCHEDULE_PRESETS = frozenset(
    {"@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly", "@annually"}
)
KNOWN_FIELDS = (
    "name",
    "include_segments",
    "exclude_segments",
    "integration",
    "identifiers",
    "schedule",
    "description",
    "pool",
    "alerts",
    "lookalike",
    "api",
    "normalization",
    "retention_in_days",
    "audience_enhancement",
)
#: The ``normalization:`` block (kept here, not imported from identifiers, so parsing stays light;
#: tests check both lists agree). Values: see :class:`tiktok_audiences.members.identifier_types.Normalization`.
NORMALIZATION_OPTIONS: dict[str, tuple[str, ...]] = {
    "phone_format": ("digits", "e164", "both"),
    "email_plus_suffix": ("remove", "keep"),
    "email_dots": ("keep", "gmail", "remove"),
}
#: TikTok's range for ``retention_in_days`` (TikTok Business API SDK, yml_files/dmp_custom_audience_create.yml:
#: "Value range: [1, 365]").
RETENTION_DAYS_RANGE = (1, 365)
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")
_CONN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")


def parse_audience(key: str, where: str, document: Any) -> tuple[AudienceDefinition | None, list[DefinitionProblem]]:
    """Validate one already-loaded YAML document."""
    problems: list[DefinitionProblem] = []

    def problem(field_name: str | None, message: str, fix: str) -> None:
        problems.append(DefinitionProblem(where, field_name, message, fix))

    if not _KEY_PATTERN.match(key):
        problem(None, "the file name may only use letters, digits, '_', '.' and '-'", "rename the file")
    if not isinstance(document, dict):
        problem(None, "must be a YAML mapping of fields", "start with 'name: ...' and 'include_segments: [...]'")
        return None, problems

    for unknown in sorted(set(map(str, document)) - set(KNOWN_FIELDS)):
        close = difflib.get_close_matches(unknown, KNOWN_FIELDS, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known fields are {', '.join(KNOWN_FIELDS)}"
        problem(unknown, "is not a known field", f"remove it or correct the spelling ({hint})")

    name = document.get("name")
    audience_name = name.strip() if isinstance(name, str) else ""
    if not audience_name:
        problem("name", "is missing or empty", "give the audience a name of 1 to 128 characters")
    elif len(audience_name) > MAX_NAME_LENGTH:
        problem(
            "name",
            f"is {len(audience_name)} characters long; TikTok accepts at most {MAX_NAME_LENGTH}",
            "shorten the name",
        )

    include = _segment_ids(document, "include_segments", required=True, problem=problem)
    exclude = _segment_ids(document, "exclude_segments", required=False, problem=problem)
    if include and exclude:
        both = sorted(set(include) & set(exclude))
        if both:
            problem(
                "exclude_segments",
                f"segment(s) {both} are also included, which would leave them empty",
                "list each segment in include_segments or exclude_segments, not both",
            )

    integration = document.get("integration", DEFAULT_INTEGRATION)
    if not isinstance(integration, str) or not _CONN_ID_PATTERN.match(integration):
        problem(
            "integration",
            "must be an Airflow connection id (letters, digits, '_', '.', '-')",
            f"use the conn id of the TikTok integration, e.g. '{DEFAULT_INTEGRATION}'",
        )

    identifiers = _identifiers(document, problem)
    schedule = _schedule(document, problem)

    description = document.get("description", "")
    if not isinstance(description, str):
        problem("description", "must be text", "write the description as a string")
    pool = document.get("pool")
    if pool is not None and (not isinstance(pool, str) or not _CONN_ID_PATTERN.match(pool)):
        problem("pool", "must be the name of an Airflow pool", "e.g. 'tiktok_default_api', created in Admin > Pools")
    alerts = parse_alerts(document.get("alerts"), problem)

    lookalike = None
    if document.get("lookalike") is not None:
        lookalike = parse_lookalike(document["lookalike"], audience_name=audience_name or key, problem=problem)
    elif "lookalike" in document and document["lookalike"] is None:
        problem("lookalike", "is empty", "remove the line, or give at least 'location_ids: [...]'")

    api = document.get("api")
    if api is not None and api not in AUDIENCE_APIS:
        problem(
            "api",
            f"is {api!r}; it must be one of {', '.join(AUDIENCE_APIS)}",
            "write 'api: customer_file' (uploaded files, works for every TikTok app) or 'api: partner' (TikTok's "
            "Audience Segment API), or remove the field to use the integration's setting",
        )

    normalization = _normalization(document, api, problem)
    retention_in_days, audience_enhancement = _create_options(document, api, problem)

    if problems:
        return None, problems
    return (
        AudienceDefinition(
            key=key,
            path=where,
            name=audience_name,
            include_segments=include,
            exclude_segments=exclude,
            integration=integration,
            identifiers=identifiers,
            schedule=schedule,
            description=description,
            pool=pool,
            alerts=alerts,
            lookalike=lookalike,
            api=api,
            normalization=tuple(sorted(normalization.items())),
            retention_in_days=retention_in_days,
            audience_enhancement=audience_enhancement,
            raw=dict(document),
        ),
        [],
    )


def _normalization(document: Mapping[str, Any], api: str | None, problem: Problem) -> dict[str, str]:
    """The ``normalization:`` block: which form of a valid identifier is hashed (see docs/identifiers.md)."""
    value = document.get("normalization")
    if value is None:
        if "normalization" in document:
            problem("normalization", "is empty", "remove the line, or set e.g. 'normalization: {phone_format: both}'")
        return {}
    if not isinstance(value, dict):
        problem("normalization", "must be a mapping of options",
                "write e.g. 'normalization: {phone_format: digits, email_dots: keep}'")
        return {}
    settings: dict[str, str] = {}
    for option in sorted(map(str, value)):
        allowed = NORMALIZATION_OPTIONS.get(option)
        if allowed is None:
            close = difflib.get_close_matches(option, NORMALIZATION_OPTIONS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known options are {', '.join(NORMALIZATION_OPTIONS)}"
            problem(f"normalization.{option}", "is not a known option", f"remove it or correct the spelling ({hint})")
            continue
        raw = value[option]
        text = raw.strip().lower() if isinstance(raw, str) else None
        if text is None or text not in allowed:
            problem(f"normalization.{option}", f"is {raw!r}; it must be one of {', '.join(allowed)}",
                    f"write e.g. 'normalization: {{{option}: {allowed[0]}}}', or remove it for the default")
            continue
        settings[option] = text
    if api == "partner" and settings.get("phone_format", "e164") != "e164":
        problem("normalization.phone_format",
                f"is '{settings['phone_format']}', but TikTok's partner (Audience Segment) API takes PHONE_SHA256 "
                f"only as the SHA-256 of E.164 with '+' (e.g. +1231234567)",
                "remove the option (partner audiences use e164) or write 'phone_format: e164'")
    return settings


def _create_options(document: Mapping[str, Any], api: str | None, problem: Problem) -> tuple[int | None, bool | None]:
    """``retention_in_days`` and ``audience_enhancement``: options of TikTok's customer-file create."""
    retention = document.get("retention_in_days")
    low, high = RETENTION_DAYS_RANGE
    if retention is not None and (isinstance(retention, bool) or not isinstance(retention, int)
                                  or not low <= retention <= high):
        problem("retention_in_days", f"is {retention!r}; TikTok accepts a whole number of days from {low} to {high}",
                "write e.g. 'retention_in_days: 180', or remove it to let TikTok expire the audience 365 days "
                "after it was last used in an active ad group or modified")
        retention = None
    enhancement = document.get("audience_enhancement")
    if enhancement is not None and not isinstance(enhancement, bool):
        problem("audience_enhancement", f"must be true or false, not {enhancement!r}",
                "write 'audience_enhancement: true', or remove it (TikTok's default is false)")
        enhancement = None
    if api == "partner":
        for name, set_value in (("retention_in_days", retention), ("audience_enhancement", enhancement)):
            if set_value is not None:
                problem(name, "is an option of TikTok's customer-file create (/dmp/custom_audience/create/); "
                              "a partner audience (/segment/audience/) takes no such field",
                        "remove it, or send the audience as a customer file ('api: customer_file')")
    return retention, enhancement


def _segment_ids(document: Mapping[str, Any], field_name: str, *, required: bool, problem: Problem) -> tuple[int, ...]:
    value = document.get(field_name)
    if value is None:
        if required:
            problem(field_name, "is missing", "list at least one segment id, e.g. 'include_segments: [1, 2]'")
        return ()
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list):
        problem(field_name, "must be a list of segment ids", f"write it as '{field_name}: [1, 2]'")
        return ()
    if required and not value:
        problem(field_name, "is empty", "list at least one segment id")
        return ()
    ids: list[int] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (int, str)) or not str(item).strip().isdigit():
            problem(field_name, f"contains {item!r}, which is not a segment id", "use the numeric segment_id")
            continue
        ids.append(int(str(item).strip()))
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        problem(field_name, f"lists segment(s) {duplicates} more than once", "list each segment once")
    return tuple(sorted(set(ids)))


def _identifiers(document: Mapping[str, Any], problem: Problem) -> tuple[str, ...]:
    value = document.get("identifiers", list(ID_TYPES))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        problem("identifiers", "must be a non-empty list", f"choose from {', '.join(ID_TYPES)}")
        return ID_TYPES
    unknown = [v for v in value if v not in ID_TYPES]
    if unknown:
        problem("identifiers", f"has unknown identifier(s) {unknown}", f"choose from {', '.join(ID_TYPES)}")
    return tuple(t for t in ID_TYPES if t in value)


def _schedule(document: Mapping[str, Any], problem: Problem) -> str | None:
    if "schedule" not in document:
        return DEFAULT_SCHEDULE
    value = document["schedule"]
    if value is None:
        return None  # manual runs only
    if not isinstance(value, str) or not value.strip():
        problem("schedule", "must be a cron expression or a preset", "e.g. '@daily' or '0 6 * * *'")
        return DEFAULT_SCHEDULE
    value = value.strip()
    if value.startswith("@"):
        if value not in SCHEDULE_PRESETS:
            problem("schedule", f"'{value}' is not a preset", f"use one of {', '.join(sorted(SCHEDULE_PRESETS))}")
        return value
    # Airflow's own cron parser; imported lazily to keep parsing light. No stubs in requirements-dev.txt.
    from croniter import croniter  # type: ignore[import-untyped]

    if not croniter.is_valid(value):
        problem("schedule", f"'{value}' is not a valid cron expression", "use five fields, e.g. '0 6 * * *'")
    return value
