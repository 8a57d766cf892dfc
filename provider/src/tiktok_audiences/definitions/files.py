"""Audience definitions: one YAML file per audience in ``include/audiences/``.

Pure Python (no Airflow import), so the ``validate`` command, the DAG file and the tests share one
set of rules. Every problem is reported as a :class:`DefinitionProblem` that names the file, the
field and the fix; nothing here ever raises a bare traceback at a user.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tiktok_audiences.sync.alerts import parse_alerts

AUDIENCES_DIR_ENV = "TIKTOK_AUDIENCES_DIR"
DEFAULT_INTEGRATION = "tiktok_default"
DEFAULT_SCHEDULE = "@daily"
MAX_NAME_LENGTH = 128  # TikTok's limit for custom_audience_name
DAG_ID_PREFIX = "tiktok_audience__"
# Kept here (not imported from identifiers) so that DAG parsing never imports pandas.
ID_TYPES: tuple[str, ...] = ("email", "phone", "maid")
#: Ways to send an audience (see tiktok_audiences.tiktok.partner, kept here so parsing stays light).
AUDIENCE_APIS: tuple[str, ...] = ("customer_file", "partner")

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
#: tests check both lists agree). Values: see :class:`tiktok_audiences.members.identifiers.Normalization`.
NORMALIZATION_OPTIONS: dict[str, tuple[str, ...]] = {
    "phone_format": ("digits", "e164", "both"),
    "email_plus_suffix": ("remove", "keep"),
    "email_dots": ("keep", "gmail", "remove"),
}
#: TikTok's range for ``retention_in_days`` (yml_files/dmp_custom_audience_create.yml: "Value range: [1, 365]").
RETENTION_DAYS_RANGE = (1, 365)
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")
_CONN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")


@dataclass(frozen=True)
class DefinitionProblem:
    """One thing wrong with one audience file, phrased for the person who has to fix it."""

    path: str
    field: str | None
    message: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.path}: field '{self.field}'" if self.field else self.path
        return f"{where}: {self.message}. Fix: {self.fix}"


class AudienceDefinitionError(ValueError):
    """Raised when one or more audience files are invalid; ``str()`` lists every problem."""

    def __init__(self, problems: Sequence[DefinitionProblem]):
        self.problems = list(problems)
        lines = [f"{len(self.problems)} problem(s) in TikTok audience definitions:"]
        lines += [f"  - {problem}" for problem in self.problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class AudienceDefinition:
    """A validated audience: include segments minus exclude segments, sent to one integration.

    :param key: the file stem; stable identity of the audience (dag_id and metadata key derive from it)
    :param path: the file the definition comes from
    :param name: audience name, shown in TikTok and on the audiences page
    :param include_segments: segment ids whose members are in the audience (union)
    :param exclude_segments: segment ids whose members are never in the audience
    :param integration: Airflow connection id of the TikTok integration
    :param identifiers: which identifiers to send: any of ``email``, ``phone``, ``maid``
    :param schedule: cron expression or preset
    :param alerts: the ``alerts:`` block, validated and normalized by :func:`tiktok_audiences.sync.alerts.parse_alerts`
    :param api: ``customer_file`` or ``partner``; None = the integration's choice (default customer_file)
    :param normalization: the ``normalization:`` options the file sets, as sorted ``(option, value)``
        pairs (the rest are the API's defaults,
        see :meth:`tiktok_audiences.members.identifiers.Normalization.from_settings`)
    :param retention_in_days: sent on create: the audience expires this many days after creation (1–365)
    :param audience_enhancement: sent on create when set (TikTok's ``audience_enhancement``, default false)
    """

    key: str
    path: str
    name: str
    include_segments: tuple[int, ...]
    exclude_segments: tuple[int, ...] = ()
    integration: str = DEFAULT_INTEGRATION
    identifiers: tuple[str, ...] = ID_TYPES
    schedule: str | None = DEFAULT_SCHEDULE
    description: str = ""
    pool: str | None = None
    alerts: Mapping[str, Any] = field(default_factory=dict, compare=False)
    lookalike: LookalikeDefinition | None = None
    api: str | None = None
    normalization: tuple[tuple[str, str], ...] = ()
    retention_in_days: int | None = None
    audience_enhancement: bool | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def dag_id(self) -> str:
        return f"{DAG_ID_PREFIX}{self.key}"

    @property
    def segment_ids(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.include_segments) | set(self.exclude_segments)))

    def as_dict(self) -> dict[str, Any]:
        """The definition as stored in the metadata table and shown on the audiences page."""
        return {
            "key": self.key,
            "path": self.path,
            "name": self.name,
            "include_segments": list(self.include_segments),
            "exclude_segments": list(self.exclude_segments),
            "integration": self.integration,
            "identifiers": list(self.identifiers),
            "schedule": self.schedule,
            "description": self.description,
            "pool": self.pool,
            "alerts": dict(self.alerts),
            "lookalike": self.lookalike.as_dict() if self.lookalike else None,
            "api": self.api,
            "normalization": dict(self.normalization),
            "retention_in_days": self.retention_in_days,
            "audience_enhancement": self.audience_enhancement,
        }


def audiences_dir(default: str | os.PathLike[str] | None = None) -> Path:
    """Folder of the audience files: ``$TIKTOK_AUDIENCES_DIR`` or the given default."""
    configured = os.environ.get(AUDIENCES_DIR_ENV)
    if configured:
        return Path(configured)
    if default is None:
        raise AudienceDefinitionError(
            [
                DefinitionProblem(
                    AUDIENCES_DIR_ENV,
                    None,
                    "no audiences folder is configured",
                    f"set {AUDIENCES_DIR_ENV} to the folder holding the audience YAML files",
                )
            ]
        )
    return Path(default)


def audience_files(directory: Path) -> list[Path]:
    """The audience files of a folder, in a stable order (DAG order must not change between parses)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_audiences(directory: Path) -> tuple[list[AudienceDefinition], list[DefinitionProblem]]:
    """Read and validate every audience file of ``directory``.

    Returns the valid definitions and the problems of the invalid ones, so that one broken file
    does not stop the other audiences from syncing.
    """
    definitions: list[AudienceDefinition] = []
    problems: list[DefinitionProblem] = []
    if not directory.is_dir():
        problems.append(
            DefinitionProblem(
                str(directory),
                None,
                "the audiences folder does not exist",
                f"create it or point {AUDIENCES_DIR_ENV} at the folder with the audience files",
            )
        )
        return definitions, problems
    seen_stems: dict[str, Path] = {}
    for path in audience_files(directory):
        if path.stem in seen_stems:
            problems.append(
                DefinitionProblem(
                    str(path),
                    None,
                    f"another file has the same name stem ({seen_stems[path.stem].name}), so both "
                    f"would become DAG '{DAG_ID_PREFIX}{path.stem}'",
                    "rename or remove one of the two files",
                )
            )
            continue
        seen_stems[path.stem] = path
        definition, file_problems = parse_audience_file(path)
        problems.extend(file_problems)
        if definition is not None:
            definitions.append(definition)
    problems.extend(_duplicate_name_problems(definitions))
    problems.extend(_lookalike_name_problems(definitions))
    bad_paths = {p.path for p in problems}
    return [d for d in definitions if d.path not in bad_paths], problems


def parse_audience_file(path: Path) -> tuple[AudienceDefinition | None, list[DefinitionProblem]]:
    """Parse one audience file; returns ``(definition, [])`` or ``(None, problems)``."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return None, [
            DefinitionProblem(where, None, f"cannot be read ({type(err).__name__})", "save it as UTF-8 text")
        ]
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        return None, [
            DefinitionProblem(where, None, f"is not valid YAML{at}: {problem}", "correct the YAML syntax")
        ]
    return parse_audience(path.stem, where, document)


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
    if not isinstance(name, str) or not name.strip():
        problem("name", "is missing or empty", "give the audience a name of 1 to 128 characters")
    elif len(name.strip()) > MAX_NAME_LENGTH:
        problem(
            "name",
            f"is {len(name.strip())} characters long; TikTok accepts at most {MAX_NAME_LENGTH}",
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
        audience_name = name.strip() if isinstance(name, str) and name.strip() else key
        lookalike = parse_lookalike(document["lookalike"], audience_name=audience_name, problem=problem)
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
            name=name.strip(),
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


def _normalization(document: Mapping[str, Any], api: str | None, problem) -> dict[str, str]:
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
        if text not in allowed:
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


def _create_options(document: Mapping[str, Any], api: str | None, problem) -> tuple[int | None, bool | None]:
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


def _segment_ids(document: Mapping[str, Any], field_name: str, *, required: bool, problem) -> tuple[int, ...]:
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


def _identifiers(document: Mapping[str, Any], problem) -> tuple[str, ...]:
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


def _schedule(document: Mapping[str, Any], problem) -> str | None:
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
    from croniter import croniter  # Airflow's own cron parser; imported lazily to keep parsing light

    if not croniter.is_valid(value):
        problem("schedule", f"'{value}' is not a valid cron expression", "use five fields, e.g. '0 6 * * *'")
    return value


def _duplicate_name_problems(definitions: Iterable[AudienceDefinition]) -> list[DefinitionProblem]:
    by_name: dict[tuple[str, str], list[AudienceDefinition]] = {}
    for definition in definitions:
        by_name.setdefault((definition.integration, definition.name.casefold()), []).append(definition)
    problems = []
    for (integration, _), group in sorted(by_name.items()):
        if len(group) < 2:
            continue
        files = ", ".join(Path(d.path).name for d in group)
        for definition in group:
            problems.append(
                DefinitionProblem(
                    definition.path,
                    "name",
                    f"'{definition.name}' is used by {len(group)} audiences on integration "
                    f"'{integration}' ({files}); TikTok would show two audiences with one name",
                    "give each audience of an integration its own name",
                )
            )
    return problems


# -- lookalike audiences ------------------------------------------------------------------------

#: TikTok's lookalike_spec enums (SDK yml ``dmp_custom_audience_lookalike_create``).
LOOKALIKE_SIZES: tuple[str, ...] = ("NARROW", "BALANCED", "BROAD")
LOOKALIKE_MOBILE_OS: tuple[str, ...] = ("ALL", "ANDROID", "IOS")
#: The placements TikTok documents for lookalikes, spelled as TikTok's SDK lists them.
LOOKALIKE_PLACEMENTS: tuple[str, ...] = ("TikTok", "TopBuzz & BuzzVideo", "Pangle")
LOOKALIKE_FIELDS = ("name", "location_ids", "audience_size", "include_source", "mobile_os", "placements")
LOOKALIKE_NAME_SUFFIX = " (lookalike)"
_LOCATION_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class LookalikeDefinition:
    """The optional ``lookalike:`` block: a TikTok lookalike audience seeded by this audience.

    :param name: name of the lookalike on TikTok (default: the audience's name + " (lookalike)")
    :param location_ids: TikTok location ids the lookalike is built in (at least one)
    :param audience_size: NARROW, BALANCED or BROAD
    :param include_source: whether the lookalike also holds the source audience's members
    :param mobile_os: ALL, ANDROID or IOS
    :param placements: apps the lookalike is for (TikTok, TopBuzz & BuzzVideo, Pangle)
    """

    name: str
    location_ids: tuple[str, ...]
    audience_size: str = "BALANCED"
    include_source: bool = False
    mobile_os: str = "ALL"
    placements: tuple[str, ...] = ("TikTok",)

    def spec(self) -> dict[str, Any]:
        """What TikTok builds the lookalike from, without the source audience (its id changes)."""
        return {
            "audience_size": self.audience_size,
            "include_source": self.include_source,
            "location_ids": list(self.location_ids),
            "mobile_os": self.mobile_os,
            "placements": list(self.placements),
        }

    def tiktok_spec(self, source_audience_id: str) -> dict[str, Any]:
        """TikTok's ``lookalike_spec`` for a create."""
        return {"source_audience_id": str(source_audience_id), **self.spec()}

    def spec_hash(self) -> str:
        return lookalike_spec_hash(self.spec())

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.spec()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LookalikeDefinition:
        """Back from :meth:`as_dict` (the operator receives the definition as a dict)."""
        return cls(
            name=str(data["name"]),
            location_ids=tuple(str(x) for x in data["location_ids"]),
            audience_size=str(data.get("audience_size", "BALANCED")),
            include_source=bool(data.get("include_source", False)),
            mobile_os=str(data.get("mobile_os", "ALL")),
            placements=tuple(str(x) for x in data.get("placements") or ("TikTok",)),
        )


def lookalike_spec_hash(spec: Mapping[str, Any]) -> str:
    """A stable fingerprint of a lookalike spec: a changed hash means the lookalike must be rebuilt."""
    import hashlib
    import json

    canonical = {
        "audience_size": str(spec.get("audience_size")),
        "include_source": bool(spec.get("include_source")),
        "location_ids": sorted(str(x) for x in spec.get("location_ids") or ()),
        "mobile_os": str(spec.get("mobile_os")),
        "placements": sorted(str(x) for x in spec.get("placements") or ()),
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def default_lookalike_name(audience_name: str) -> str:
    """"<audience name> (lookalike)", shortening the audience name to stay within TikTok's 128."""
    room = MAX_NAME_LENGTH - len(LOOKALIKE_NAME_SUFFIX)
    return audience_name[:room].rstrip() + LOOKALIKE_NAME_SUFFIX


def parse_lookalike(value: Any, *, audience_name: str, problem) -> LookalikeDefinition | None:
    """Validate the ``lookalike:`` block; reports each problem as field ``lookalike.<name>``."""
    if not isinstance(value, dict):
        problem("lookalike", "must be a mapping of lookalike settings", "write e.g. 'lookalike: {location_ids: [\"6252001\"]}'")
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
        report("name", "must be a non-empty text", "give the lookalike a name of 1 to 128 characters, or remove the field")
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
                report("placements", f"has unknown placement {item!r}", f"choose from {', '.join(LOOKALIKE_PLACEMENTS)}")
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


def _lookalike_enum(value: Mapping[str, Any], field_name: str, allowed: Sequence[str], default: str, report) -> str:
    raw = value.get(field_name, default)
    if isinstance(raw, str) and raw.strip().upper() in allowed:
        return raw.strip().upper()
    report(field_name, f"{raw!r} is not one of {', '.join(allowed)}", f"use one of {', '.join(allowed)} (default {default})")
    return default


def _lookalike_name_problems(definitions: Iterable[AudienceDefinition]) -> list[DefinitionProblem]:
    """A lookalike may not share its name with any audience or lookalike of its integration.

    Interrupted creates are found again by name on TikTok; two audiences with one name would make
    that ambiguous (and confuse whoever picks the audience in TikTok Ads Manager).
    """
    names: dict[tuple[str, str], list[str]] = {}
    for definition in definitions:
        names.setdefault((definition.integration, definition.name.casefold()), []).append(Path(definition.path).name)
        if definition.lookalike:
            names.setdefault((definition.integration, definition.lookalike.name.casefold()), []).append(
                f"{Path(definition.path).name} (lookalike)"
            )
    problems = []
    for definition in definitions:
        if not definition.lookalike:
            continue
        users = names[(definition.integration, definition.lookalike.name.casefold())]
        if len(users) > 1:
            others = ", ".join(u for u in users if u != f"{Path(definition.path).name} (lookalike)")
            problems.append(
                DefinitionProblem(
                    definition.path,
                    "lookalike.name",
                    f"'{definition.lookalike.name}' is also used by {others} on integration '{definition.integration}'",
                    "give the lookalike its own name ('lookalike: {name: ...}')",
                )
            )
    return problems
