"""What a run was asked to do (the DAG's params and the operator's settings), typed."""

from __future__ import annotations

from dataclasses import dataclass


def flag(value: object) -> bool:
    """A templated boolean param: Airflow renders ``{{ params.dry_run }}`` as the text "True"/"False"."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


@dataclass(frozen=True)
class SyncOptions:
    """How one run of the audience sync behaves.

    :param full_resync: send the whole audience (REPLACE, or add all and delete the rest) instead of a diff
    :param dry_run: compute and record the plan, send nothing
    :param allow_large_removal: let the run pass the removal guard
    :param batch_size: identifiers per customer file; users per ``/segment/mapping/`` request (≤ 10,000)
    :param lock_lease_seconds: how long the audience's lock stays valid without a renewal
    """

    full_resync: bool = False
    dry_run: bool = False
    allow_large_removal: bool = False
    batch_size: int = 500_000
    lock_lease_seconds: float = 600.0
