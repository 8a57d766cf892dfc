"""The definitions room: audience files, one YAML file per audience in ``include/audiences/``.

Pure Python (no Airflow import), so the ``validate`` command, the DAG file and the tests share one
set of rules. Every problem is reported as a :class:`DefinitionProblem` that names the file, the
field and the fix; nothing here ever raises a bare traceback at a user.

- :mod:`.model`: the frozen definitions (:class:`AudienceDefinition`, :class:`LookalikeDefinition`)
  and the problems (:class:`DefinitionProblem`, :class:`AudienceDefinitionError`).
- :mod:`.loading`: the audiences folder, reading each file's YAML, the checks across files.
- :mod:`.validation`: the fields of one audience document; :mod:`.lookalike`: its ``lookalike:``
  block; :mod:`.alerts`: its ``alerts:`` block and the integration's, merged into alert settings.

May import: the standard library, PyYAML and croniter (Airflow's cron parser, imported lazily).
Never another room of the package, nor Airflow: every other room may import this one.
"""

from tiktok_audiences.definitions.alerts import (
    AUTH_ERROR,
    EVENTS,
    FAILED,
    MATCH_DROP,
    TOO_SMALL,
    AlertSettings,
    EmailChannel,
    SlackChannel,
    parse_alerts,
    parse_integration_alerts,
    resolve_settings,
)
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
    "AUTH_ERROR",
    "DAG_ID_PREFIX",
    "DEFAULT_INTEGRATION",
    "DEFAULT_SCHEDULE",
    "EVENTS",
    "FAILED",
    "ID_TYPES",
    "MATCH_DROP",
    "MAX_NAME_LENGTH",
    "NORMALIZATION_OPTIONS",
    "TOO_SMALL",
    "AlertSettings",
    "AudienceDefinition",
    "AudienceDefinitionError",
    "DefinitionProblem",
    "EmailChannel",
    "LookalikeDefinition",
    "Problem",
    "SlackChannel",
    "audience_files",
    "audiences_dir",
    "default_lookalike_name",
    "load_audiences",
    "lookalike_spec_hash",
    "parse_alerts",
    "parse_audience",
    "parse_audience_file",
    "parse_integration_alerts",
    "parse_lookalike",
    "resolve_settings",
]
