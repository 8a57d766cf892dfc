"""Run one task of an audience DAG run — the operator's real execute() — in this process.

Usage: python bench/task.py extract|sync RUN_ID [--full-resync] [--no-cache] [--profile FILE]

Connections come from AIRFLOW_CONN_* variables set by bench/bench.py. Prints one JSON line:
the operator's return value plus this process's peak RSS (the task process, as a worker runs it).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import sys
import time
from types import SimpleNamespace

from tiktok_audiences.definitions import AudienceDefinition

AUDIENCE = AudienceDefinition(
    key="bench", path="bench.yaml", name="Benchmark audience", include_segments=(1, 2), exclude_segments=(3,),
    integration="tiktok_default", identifiers=("email", "phone", "maid"), schedule=None,
)
DAG_ID = "tiktok_audience__bench"


def peak_rss_kib() -> int:
    """This process's own peak RSS.

    /proc/self/status VmHWM belongs to the address space created at exec. getrusage's ru_maxrss
    is not used: Linux carries the parent's peak over into a forked-and-exec'd child, so it would
    report the benchmark harness (which holds the sandbox's member sets), not the task.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("task", choices=["extract", "sync"])
    parser.add_argument("run_id")
    parser.add_argument("--full-resync", action="store_true")
    parser.add_argument("--no-cache", action="store_true", help="extract without the identifier cache")
    parser.add_argument("--profile")
    args = parser.parse_args()
    started = time.perf_counter()
    from tiktok_audiences.operators.extract import AudienceMembersExtractOperator
    from tiktok_audiences.operators.tiktok import TikTokAudienceSyncOperator

    sql_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "include", "sql")
    context = {"dag": SimpleNamespace(dag_id=DAG_ID), "run_id": args.run_id}
    if args.task == "extract":
        op = AudienceMembersExtractOperator(
            task_id="extract_members", audience=AUDIENCE, sql_dir=sql_dir,
            staging_url=os.environ["TIKTOK_AUDIENCES_STAGING_URL"], identifier_cache=not args.no_cache,
        )
    else:
        with open(os.environ["BENCH_EXTRACT_SUMMARY"]) as handle:
            summary = json.load(handle)
        kwargs = {}
        if "allow_large_removal" in inspect.signature(TikTokAudienceSyncOperator.__init__).parameters:
            kwargs["allow_large_removal"] = True  # the naive REPLACE and churn runs are intended
        op = TikTokAudienceSyncOperator(
            task_id="sync_to_tiktok", audience=AUDIENCE, extract_summary=summary,
            full_resync=args.full_resync, **kwargs,
        )
    imported = time.perf_counter() - started
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        result = profiler.runcall(op.execute, context)
        profiler.dump_stats(args.profile)
    else:
        result = op.execute(context)
    print(json.dumps({"result": result, "peak_rss_mib": peak_rss_kib() / 1024, "startup_s": imported,
                      "process_s": time.perf_counter() - started}, default=str))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
