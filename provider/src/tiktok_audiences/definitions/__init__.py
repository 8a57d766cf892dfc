"""The definitions room: audience files, one YAML file per audience in ``include/audiences/``.

Pure Python (no Airflow import), so the ``validate`` command, the DAG file and the tests share one
set of rules. Every problem is reported as a :class:`DefinitionProblem` that names the file, the
field and the fix; nothing here ever raises a bare traceback at a user.

- :mod:`.model`: the frozen definitions (:class:`AudienceDefinition`, :class:`LookalikeDefinition`)
  and the problems (:class:`DefinitionProblem`, :class:`AudienceDefinitionError`).
- :mod:`.loading`: the audiences folder, reading each file's YAML, the checks across files.
- :mod:`.validation`: the fields of one audience document; :mod:`.lookalike`: its ``lookalike:``
  block.

May import: the standard library, PyYAML and croniter (Airflow's cron parser, imported lazily).
Never another room of the package, nor Airflow: every other room may import this one. (Until the
alert settings move here, :mod:`.validation` still imports ``parse_alerts`` from the sync room.)
"""

from tiktok_audiences.definitions.loading import (
    AUDIENCES_DIR_ENV,
    audience_files,
    audiences_dir,
    load_audiences,
    parse_audience_file,
)
from tiktok_audiences.definitions.lookalike import default_lookalike_name, parse_lookalike
from tiktok_audiences.definitions.model import (
    AUDIENCE_APIS,
    DAG_ID_PREFIX,
    DEFAULT_INTEGRATION,
    DEFAULT_SCHEDULE,
    ID_TYPES,
    MAX_NAME_LENGTH,
    AudienceDefinition,
    AudienceDefinitionError,
    DefinitionProblem,
    LookalikeDefinition,
    Problem,
    lookalike_spec_hash,
)
from tiktok_audiences.definitions.validation import NORMALIZATION_OPTIONS, parse_audience

__all__ = [
    "AUDIENCES_DIR_ENV",
    "AUDIENCE_APIS",
    "DAG_ID_PREFIX",
    "DEFAULT_INTEGRATION",
    "DEFAULT_SCHEDULE",
    "ID_TYPES",
    "MAX_NAME_LENGTH",
    "NORMALIZATION_OPTIONS",
    "AudienceDefinition",
    "AudienceDefinitionError",
    "DefinitionProblem",
    "LookalikeDefinition",
    "Problem",
    "audience_files",
    "audiences_dir",
    "default_lookalike_name",
    "load_audiences",
    "lookalike_spec_hash",
    "parse_audience",
    "parse_audience_file",
    "parse_lookalike",
]
