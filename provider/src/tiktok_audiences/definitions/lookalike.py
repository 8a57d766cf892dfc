"""The ``lookalike:`` block of an audience file: TikTok's lookalike settings, validated."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tiktok_audiences.definitions.model import MAX_NAME_LENGTH, LookalikeDefinition, Problem

#: TikTok's lookalike_spec enums (TikTok Business API SDK, ``dmp_custom_audience_lookalike_create``).
LOOKALIKE_SIZES: tuple[str, ...] = ("NARROW", "BALANCED", "BROAD")
LOOKALIKE_MOBILE_OS: tuple[str, ...] = ("ALL", "ANDROID", "IOS")
#: The placements TikTok documents for lookalikes, spelled as TikTok's SDK lists them.
LOOKALIKE_PLACEMENTS: tuple[str, ...] = ("TikTok", "TopBuzz & BuzzVideo", "Pangle")
LOOKALIKE_FIELDS = ("name", "location_ids", "audience_size", "include_source", "mobile_os", "placements")
LOOKALIKE_NAME_SUFFIX = " (lookalike)"
_LOCATION_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def default_lookalike_name(audience_name: str) -> str:
    """"<audience name> (lookalike)", shortening the audience name to stay within TikTok's 128."""
    room = MAX_NAME_LENGTH - len(LOOKALIKE_NAME_SUFFIX)
    return audience_name[:room].rstrip() + LOOKALIKE_NAME_SUFFIX


def parse_lookalike(value: Any, *, audience_name: str, problem: Problem) -> LookalikeDefinition | None:
    """Validate the ``lookalike:`` block; reports each problem as field ``lookalike.<name>``."""
    if not isinstance(value, dict):
        problem("lookalike", "must be a mapping of lookalike settings",
                "write e.g. 'lookalike: {location_ids: [\"6252001\"]}'")
        return None
    bad = False

    def report(field_name: str, message: str, fix: str) -> None:
        nonlocal bad
        bad = True
        problem(f"lookalike.{field_name}", message, fix)

    for unknown in sorted(set(map(str, value)) - set(LOOKALIKE_FIELDS)):
        close = difflib.get_close_matches(unknown, LOOKALIKE_FIELDS, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known fields are {', '.join(LOOKALIKE_FIELDS)}"
        report(unknown, "is not a known lookalike field", f"remove it or correct the spelling ({hint})")

    name = value.get("name")
    if name is None:
        name = default_lookalike_name(audience_name)
    elif not isinstance(name, str) or not name.strip():
        report("name", "must be a non-empty text",
               "give the lookalike a name of 1 to 128 characters, or remove the field")
        name = ""
    elif len(name.strip()) > MAX_NAME_LENGTH:
        report("name", f"is {len(name.strip())} characters long; TikTok accepts at most {MAX_NAME_LENGTH}",
               "shorten the name")
    name = name.strip()

    locations = value.get("location_ids")
    location_ids: list[str] = []
    if locations is None:
        report("location_ids", "is missing; TikTok builds a lookalike only within named locations",
               "list at least one TikTok location id, e.g. 'location_ids: [\"6252001\"]' (United States)")
    else:
        if isinstance(locations, (str, int)) and not isinstance(locations, bool):
            locations = [locations]
        if not isinstance(locations, list) or not locations:
            report("location_ids", "must be a non-empty list of TikTok location ids",
                   "write it as 'location_ids: [\"6252001\"]'")
        else:
            for item in locations:
                text = str(item).strip() if isinstance(item, (str, int)) and not isinstance(item, bool) else None
                if not text or not _LOCATION_ID_PATTERN.match(text):
                    report("location_ids", f"contains {item!r}, which is not a TikTok location id",
                           "use the ids of TikTok's lookalike locations, e.g. \"6252001\"")
                elif text not in location_ids:
                    location_ids.append(text)

    size = _lookalike_enum(value, "audience_size", LOOKALIKE_SIZES, "BALANCED", report)
    mobile_os = _lookalike_enum(value, "mobile_os", LOOKALIKE_MOBILE_OS, "ALL", report)

    include_source = value.get("include_source", False)
    if not isinstance(include_source, bool):
        report("include_source", f"must be true or false, not {include_source!r}", "write 'include_source: false'")
        include_source = False

    raw_placements = value.get("placements", ["TikTok"])
    if isinstance(raw_placements, str):
        raw_placements = [raw_placements]
    placements: list[str] = []
    by_fold = {p.casefold(): p for p in LOOKALIKE_PLACEMENTS}
    if not isinstance(raw_placements, list) or not raw_placements:
        report("placements", "must be a non-empty list", f"choose from {', '.join(LOOKALIKE_PLACEMENTS)}")
    else:
        for item in raw_placements:
            canonical = by_fold.get(str(item).strip().casefold()) if isinstance(item, str) else None
            if canonical is None:
                report("placements", f"has unknown placement {item!r}",
                       f"choose from {', '.join(LOOKALIKE_PLACEMENTS)}")
            elif canonical not in placements:
                placements.append(canonical)

    if bad:
        return None
    return LookalikeDefinition(
        name=name,
        location_ids=tuple(sorted(location_ids)),
        audience_size=size,
        include_source=include_source,
        mobile_os=mobile_os,
        placements=tuple(p for p in LOOKALIKE_PLACEMENTS if p in placements),
    )


def _lookalike_enum(
    value: Mapping[str, Any],
    field_name: str,
    allowed: Sequence[str],
    default: str,
    report: Callable[[str, str, str], None],
) -> str:
    raw = value.get(field_name, default)
    if isinstance(raw, str) and raw.strip().upper() in allowed:
        return raw.strip().upper()
    report(field_name, f"{raw!r} is not one of {', '.join(allowed)}",
           f"use one of {', '.join(allowed)} (default {default})")
    return default
