"""The audiences folder: which files are audiences, reading their YAML, and the checks across files."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import yaml

from tiktok_audiences.definitions.model import (
    DAG_ID_PREFIX,
    AudienceDefinition,
    AudienceDefinitionError,
    DefinitionProblem,
)
from tiktok_audiences.definitions.validation import parse_audience

AUDIENCES_DIR_ENV = "TIKTOK_AUDIENCES_DIR"


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
