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

AUDIENCES_DIR_ENV = "TIKTOK_AUDIENCES_DIR"
DEFAULT_INTEGRATION = "tiktok_default"
DEFAULT_SCHEDULE = "@daily"
MAX_NAME_LENGTH = 128  # TikTok's limit for custom_audience_name
DAG_ID_PREFIX = "tiktok_audience__"
# Kept here (not imported from identifiers) so that DAG parsing never imports pandas.
ID_TYPES: tuple[str, ...] = ("email", "phone", "maid")
#: Ways to send an audience (see tiktok_audiences.partner, kept here so parsing stays light).
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
    "api",
)
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
    :param api: ``customer_file`` or ``partner``; None = the integration's choice (default customer_file)
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
    api: str | None = None
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
            "api": self.api,
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

    api = document.get("api")
    if api is not None and api not in AUDIENCE_APIS:
        problem(
            "api",
            f"is {api!r}; it must be one of {', '.join(AUDIENCE_APIS)}",
            "write 'api: customer_file' (uploaded files, works for every TikTok app) or 'api: partner' (TikTok's "
            "Audience Segment API), or remove the field to use the integration's setting",
        )

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
            api=api,
            raw=dict(document),
        ),
        [],
    )


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
