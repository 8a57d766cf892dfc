"""Render one Airflow DAG per audience definition.

Called at parse time, so it reads only the YAML files: no database, no network, no pandas. Each DAG
is built inside :func:`build_audience_dag`, a plain function, so every task binds its own audience
(a loop body would late-bind the last one, and ``@dag`` would turn default arguments into params).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, Param, get_parsing_context, task

from tiktok_audiences.callbacks import record_failure, record_lookalike_failure
from tiktok_audiences.definitions import AudienceDefinition, audiences_dir, load_audiences
from tiktok_audiences.home import staging_base_url
from tiktok_audiences.operators.alerts import AudienceAlertsOperator
from tiktok_audiences.operators.extract import AudienceMembersExtractOperator
from tiktok_audiences.operators.lookalike import TikTokLookalikeSyncOperator
from tiktok_audiences.operators.tiktok import TikTokAudienceSyncOperator

SQL_DIR_ENV = "TIKTOK_AUDIENCES_SQL_DIR"
RETRIES_ENV = "TIKTOK_AUDIENCES_TASK_RETRIES"
BATCH_SIZE_ENV = "TIKTOK_AUDIENCES_BATCH_SIZE"
CONTACTS_CONN_ID = "contacts_db"
START_DATE = datetime(2026, 1, 1)  # fixed: a moving start date would version the DAG on every parse


def build_audience_dag(definition: AudienceDefinition, *, sql_dir: str | os.PathLike[str]) -> DAG:
    """The DAG that keeps one TikTok audience in sync: extract → sync, with a cleanup teardown."""
    audience = definition
    with DAG(
        dag_id=definition.dag_id,
        dag_display_name=f"TikTok audience: {definition.name}",
        description=f"Sync '{definition.name}' to TikTok integration {definition.integration}",
        schedule=definition.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=False,
        tags=["tiktok", "audience", f"integration:{definition.integration}"],
        doc_md=_doc_md(definition),
        params={
            "full_resync": Param(
                False,
                type="boolean",
                title="Full resync",
                description=(
                    "Send the whole audience instead of only the changes: REPLACE for a customer-file "
                    "audience, add everyone and delete the rest for a partner audience."
                ),
            ),
            "dry_run": Param(
                False,
                type="boolean",
                title="Dry run",
                description="Compute and report the plan (additions, removals); send nothing to TikTok.",
            ),
            "allow_large_removal": Param(
                False,
                type="boolean",
                title="Allow large removal",
                description="Let this run remove more than the configured share of the audience (default 30%) "
                "or drain it below TikTok's 1,000 minimum. Only after checking the segments are right.",
            ),
        },
        default_args={
            "owner": "data-engineering",
            "retries": int(os.environ.get(RETRIES_ENV, "2")),
            "retry_delay": timedelta(seconds=30),
            "retry_exponential_backoff": True,
            "on_failure_callback": record_failure,
        },
    ) as dag:
        extract = AudienceMembersExtractOperator(
            task_id="extract_members",
            audience=audience,
            sql_dir=str(sql_dir),
            staging_url=staging_base_url(),
            contacts_conn_id=CONTACTS_CONN_ID,
        )
        sync = TikTokAudienceSyncOperator(
            task_id="sync_to_tiktok",
            audience=audience,
            extract_summary=extract.output,
            full_resync="{{ params.full_resync }}",
            dry_run="{{ params.dry_run }}",
            allow_large_removal="{{ params.allow_large_removal }}",
            batch_size=int(os.environ.get(BATCH_SIZE_ENV, "500000")),
            # Audiences of one integration that name one pool share its slots: with max_qps per sync,
            # slots × max_qps bounds the requests the integration sends TikTok per second.
            **({"pool": definition.pool} if definition.pool else {}),
        )

        @task(task_id="cleanup_staging", trigger_rule="all_done")
        def cleanup_staging(run_id=None, dag=None) -> bool:
            """Remove the run's hashed member files, whether the run succeeded or not."""
            from tiktok_audiences.members.staging import remove_folder, run_folder

            return remove_folder(run_folder(staging_base_url(), dag.dag_id, run_id))

        cleanup = cleanup_staging().as_teardown(setups=extract)
        extract >> sync >> cleanup
        # Last, whatever happened: a teardown runs after failures too and, unlike a plain all_done
        # task, never turns a failed run green (nor a sent-alert failure a synced run red).
        notify = AudienceAlertsOperator(
            task_id="notify_alerts", audience=audience, on_failure_callback=None
        ).as_teardown()
        sync >> notify
        if definition.lookalike:
            # After the sync (it needs the source audience on TikTok) and only if the sync succeeded:
            # a failed sync then fails the run as before (the lookalike is upstream_failed), and a
            # failing lookalike fails the run but records its error on the lookalike, never on the
            # audience, whose sync result stays as it was.
            lookalike = TikTokLookalikeSyncOperator(
                task_id="sync_lookalike",
                audience=audience,
                dry_run="{{ params.dry_run }}",
                on_failure_callback=record_lookalike_failure,
                **({"pool": definition.pool} if definition.pool else {}),
            )
            sync >> lookalike
    return dag


def build_audience_dags(
    *, default_audiences_dir: str | os.PathLike[str], sql_dir: str | os.PathLike[str]
) -> list[DAG]:
    """Every valid audience's DAG. Invalid files are reported by the definitions-check DAG file."""
    definitions, _problems = load_audiences(audiences_dir(default_audiences_dir))
    wanted = get_parsing_context().dag_id
    sql_dir = os.environ.get(SQL_DIR_ENV, str(sql_dir))
    return [
        build_audience_dag(definition, sql_dir=sql_dir)
        for definition in _only(definitions, wanted)
    ]


def _only(definitions: Iterable[AudienceDefinition], dag_id: str | None) -> list[AudienceDefinition]:
    # A worker parsing the file to run one task needs only that task's DAG.
    return [d for d in definitions if dag_id is None or d.dag_id == dag_id]


def _doc_md(definition: AudienceDefinition) -> str:
    exclude = ", ".join(map(str, definition.exclude_segments)) or "none"
    return f"""### TikTok audience: {definition.name}

Keeps the TikTok custom audience **{definition.name}** equal to the members of include segments
**{", ".join(map(str, definition.include_segments))}** minus the members of exclude segments **{exclude}**,
sending only what changed.

| | |
|---|---|
| Definition file | `{Path(definition.path).name}` |
| Integration (connection) | `{definition.integration}` |
| Identifiers | {", ".join(definition.identifiers)} |
| Schedule | `{definition.schedule}` |

Trigger with **full_resync** to send the whole audience (REPLACE for a customer-file audience; add
everyone and delete the rest in partner mode), or **dry_run** to see the plan without sending
anything. {definition.description}
{_lookalike_doc(definition)}"""


def _lookalike_doc(definition: AudienceDefinition) -> str:
    lookalike = definition.lookalike
    if not lookalike:
        return ""
    return f"""
**Lookalike audience** *{lookalike.name}* (task `sync_lookalike`): {lookalike.audience_size}, locations
{", ".join(lookalike.location_ids)}, {lookalike.mobile_os}, placements {", ".join(lookalike.placements)},
{"including" if lookalike.include_source else "excluding"} the source audience; created once TikTok has
processed this audience.
"""
