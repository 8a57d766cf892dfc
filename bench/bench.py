"""The benchmark: first, incremental (1% churn), no-change and naive (full REPLACE) syncs vs a floor.

    python bench/bench.py --sizes 100000 1000000 [--latency 0.2] [--out bench/results]

For each size: a fresh PostgreSQL contact database (bench/datagen.py, COPY), a fresh PostgreSQL
metadata database, and the local TikTok sandbox with a per-request latency and TikTok's app-level
QPS limit. Each task of a DAG run (extract, then sync) runs as its own subprocess calling the
operator's real execute(), so the peak RSS reported is that of one task process. The floor is
PostgreSQL streaming the same identifier columns (COPY ... TO STDOUT into a null sink) plus one
tight SHA-256 loop over the raw values.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
sys.path.insert(0, str(HERE))
import datagen  # noqa: E402

PG_URL = os.environ.get("TIKTOK_TEST_POSTGRES_URL", "postgresql+psycopg2://tiktok:tiktok@127.0.0.1:5432/postgres")
TIKTOK_PATH = "/open_api/"
INCLUDE_SQL = ("SELECT contact_id, email, phone, phone_country, mobile_ad_id FROM contacts WHERE (contact_id % 10 < 5) "
               "OR (contact_id IN (SELECT contact_id FROM segment_members WHERE segment_id = 2))")
EXCLUDE_SQL = ("SELECT contact_id, email, phone, phone_country, mobile_ad_id FROM contacts "
               "WHERE (subscription_status = 'unsubscribed')")


class _NullSink:
    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data) -> int:
        self.bytes += len(data)
        return len(data)


def fresh_database(admin: sa.Engine, name: str) -> sa.Engine:
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return sa.create_engine(admin.url.set(database=name))


def conn_json(engine: sa.Engine) -> str:
    url = engine.url
    return json.dumps({"conn_type": "postgres", "host": url.host, "port": url.port, "login": url.username,
                       "password": url.password, "schema": url.database})


def floor(engine: sa.Engine) -> dict[str, float]:
    """PostgreSQL streaming the identifier columns out, and one SHA-256 loop over the raw values."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        # The setting the extraction runs with (extract.read_only): without it PostgreSQL runs the
        # static segment's IN as a per-row scan of its 500k members at 10M contacts.
        cur.execute("SET work_mem = '256MB'")
        sink = _NullSink()
        started = time.perf_counter()
        for sql in (INCLUDE_SQL, EXCLUDE_SQL):
            cur.copy_expert(f"COPY ({sql}) TO STDOUT", sink)
        stream = time.perf_counter() - started
        buffer = io.StringIO()
        for sql in (INCLUDE_SQL, EXCLUDE_SQL):
            cur.copy_expert(f"COPY ({sql}) TO STDOUT", buffer)
    finally:
        raw.close()
    values = [v.encode() for line in buffer.getvalue().splitlines() for v in line.split("\t")[1:] if v != "\\N"]
    del buffer
    sha256 = hashlib.sha256
    started = time.perf_counter()
    for v in values:
        sha256(v).hexdigest()
    hashing = time.perf_counter() - started
    return {"stream_s": stream, "stream_bytes": sink.bytes, "sha256_s": hashing, "values": len(values),
            "total_s": stream + hashing}


def run_task(task: str, run_id: str, env: dict[str, str], extra: list[str] = ()) -> dict:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(HERE / "task.py"), task, run_id, *extra], env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-6000:])
        raise RuntimeError(f"{task} {run_id} failed (exit {proc.returncode})")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_s"] = wall
    return out


def tiktok_requests(sandbox) -> tuple[int, int]:
    log = [e for e in sandbox.state.request_log() if e.path.startswith(TIKTOK_PATH)]
    return len(log), sum(e.request_bytes for e in log)


def sync(name: str, run_id: str, env: dict[str, str], sandbox, store, full_resync: bool = False,
         profile_dir: Path | None = None, cache: bool = True) -> dict:
    sandbox.state.clear_request_log()
    load_before = os.getloadavg()[0]
    extract_args = ["--profile", str(profile_dir / f"{name}-extract.prof")] if profile_dir else []
    if not cache:
        extract_args.append("--no-cache")
    sync_args = ["--full-resync"] if full_resync else []
    if profile_dir:
        sync_args += ["--profile", str(profile_dir / f"{name}-sync.prof")]
    extract = run_task("extract", run_id, env, extract_args)
    summary_path = Path(env["BENCH_TMP"]) / f"{run_id}.json"
    summary_path.write_text(json.dumps(extract["result"]))
    synced = run_task("sync", run_id, {**env, "BENCH_EXTRACT_SUMMARY": str(summary_path)}, sync_args)
    requests, sent_bytes = tiktok_requests(sandbox)
    history = store.run_history("bench", limit=1)[0]
    timings = json.loads(history["timings"]) if isinstance(history["timings"], str) else history["timings"]
    result = synced["result"]
    return {
        "scenario": name,
        "timings": timings,
        "extract_wall_s": extract["wall_s"],
        "sync_wall_s": synced["wall_s"],
        "wall_s": extract["wall_s"] + synced["wall_s"],
        "startup_s": extract["startup_s"] + synced["startup_s"],
        "peak_rss_extract_mib": extract["peak_rss_mib"],
        "peak_rss_sync_mib": synced["peak_rss_mib"],
        "peak_rss_mib": max(extract["peak_rss_mib"], synced["peak_rss_mib"]),
        "contacts_extracted": extract["result"]["include_contacts"] + extract["result"]["exclude_contacts"],
        "identifiers": result.get("plan", {}).get("identifiers"),
        "added": result.get("added", 0),
        "removed": result.get("removed", 0),
        "size": result.get("size"),
        "requests": requests,
        "bytes_sent": sent_bytes,
        "audience_id": result.get("tiktok_audience_id"),
        "identifier_cache": extract["result"].get("identifier_cache"),
        # The machine is shared: the 1-minute load average before and after this scenario.
        "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


# Member sets are kept as "type:hash" strings, not tuples: the sandbox serves requests from this
# process, and millions of GC-tracked tuples held here would make every full garbage collection in
# the sandbox's request threads slow, and the upload times with it.
def member_set(sandbox, audience_id: str) -> set[str]:
    members = sandbox.state.audience_members(audience_id) or {}
    names = {"EMAIL_SHA256": "email", "PHONE_SHA256": "phone", "MAID_SHA256": "maid", "FIRST_SHA256": "maid"}
    return {f"{names.get(t, t)}:{h}" for t, hashes in members.items() for h in hashes}


def confirmed_set(store) -> set[str]:
    frame = store.load_confirmed("bench")
    return {f"{t}:{h}" for t, h in zip(frame["id_type"].tolist(), frame["id_hash"].tolist(), strict=True)}


def _expected_set(expected, engine) -> set[str]:
    return {f"{t}:{h}" for t, h in expected(engine)}


def run_size(contacts: int, admin: sa.Engine, sandbox, latency: float, profile: bool, out: Path,
             expected=None) -> dict:
    """All scenarios at one size; ``expected(engine)`` (optional) gives the exact expected member set."""
    from tiktok_audiences.metadata import AudienceStore

    print(f"== {contacts:,} contacts", flush=True)
    contacts_db = fresh_database(admin, f"tiktok_bench_contacts_{contacts}")
    meta_db = fresh_database(admin, f"tiktok_bench_meta_{contacts}")
    build_s = datagen.build(contacts_db, contacts)
    print(f"   generated in {build_s:.1f} s", flush=True)
    tmp = tempfile.mkdtemp(prefix="tiktok-bench-")
    from tiktok_sandbox.config import SandboxConfig

    config = SandboxConfig()
    env = {
        **os.environ,
        "AIRFLOW_HOME": tmp,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp}/airflow.db",
        "TIKTOK_AUDIENCES_STAGING_URL": f"file://{tmp}/staging",
        "TIKTOK_AUDIENCES_CACHE_URL": f"file://{tmp}/identifier-cache",
        "AIRFLOW_CONN_CONTACTS_DB": conn_json(contacts_db),
        "AIRFLOW_CONN_TIKTOK_AUDIENCES_META": conn_json(meta_db),
        "AIRFLOW_CONN_TIKTOK_DEFAULT": json.dumps({
            "conn_type": "tiktok_ads", "host": sandbox.url, "password": config.access_token,
            "extra": {"advertiser_id": config.advertiser_ids[0], "app_id": config.app_id}}),
        "BENCH_TMP": tmp,
        "PYTHONPATH": str(PROJECT / "provider" / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    store = AudienceStore(meta_db)
    profile_dir = out / "profiles" / str(contacts) if profile else None
    if profile_dir:
        profile_dir.mkdir(parents=True, exist_ok=True)
    checks: dict[str, bool] = {}

    fl = floor(contacts_db)
    print(f"   floor: stream {fl['stream_s']:.2f} s + sha256 {fl['sha256_s']:.2f} s ({fl['values']:,} values)",
          flush=True)
    rows = []
    first = sync("first", "bench_first", env, sandbox, store, profile_dir=profile_dir)
    rows.append(first)
    audience_id = first["audience_id"]
    before = member_set(sandbox, audience_id)
    checks["first: TikTok == confirmed"] = before == confirmed_set(store)
    if expected:
        checks["first: TikTok == expected"] = before == _expected_set(expected, contacts_db)
    churned = datagen.churn(contacts_db, contacts)
    incremental = sync("incremental", "bench_incremental", env, sandbox, store, profile_dir=profile_dir)
    after = member_set(sandbox, audience_id)
    changed = len(before ^ after)
    incremental["changed_identifiers"] = changed
    incremental["sent_identifiers"] = incremental["added"] + incremental["removed"]
    incremental["churned_contacts"] = churned
    rows.append(incremental)
    checks["incremental: TikTok == confirmed"] = after == confirmed_set(store)
    if expected:
        checks["incremental: TikTok == expected"] = after == _expected_set(expected, contacts_db)
    checks["incremental: sent <= 1.05 x changed"] = incremental["sent_identifiers"] <= 1.05 * changed
    nochange = sync("nochange", "bench_nochange", env, sandbox, store, profile_dir=profile_dir)
    nochange["sent_identifiers"] = nochange["added"] + nochange["removed"]
    rows.append(nochange)
    checks["no-change: zero identifiers sent"] = nochange["sent_identifiers"] == 0
    checks["no-change: TikTok unchanged"] = member_set(sandbox, audience_id) == after
    # The naive approach as integrations do it: every contact read and hashed, everything REPLACEd.
    naive = sync("naive_replace", "bench_naive", env, sandbox, store, full_resync=True, profile_dir=profile_dir,
                 cache=False)
    naive["sent_identifiers"] = naive["added"]
    rows.append(naive)
    checks["naive: TikTok unchanged"] = member_set(sandbox, audience_id) == after
    for row in rows:
        row["ids_per_s"] = (row["identifiers"] or 0) / row["wall_s"]
        row["stage_sum_s"] = sum(row["timings"].get(k, 0.0) for k in
                                 ("extract", "normalize_hash", "set_ops_diff", "upload", "record"))
        row["ratio_to_floor"] = row["wall_s"] / fl["total_s"]
        row["stage_ratio_to_floor"] = row["stage_sum_s"] / fl["total_s"]
        t = row["timings"]
        print(f"   {row['scenario']:<14} wall {row['wall_s']:7.2f} s (stages {row['stage_sum_s']:6.2f} s: "
              f"extract {t.get('extract', 0):.2f}, hash {t.get('normalize_hash', 0):.2f}, "
              f"diff {t.get('set_ops_diff', 0):.2f}, "
              f"upload {t.get('upload', 0):.2f}, record {t.get('record', 0):.2f}) x{row['ratio_to_floor']:.1f} floor, "
              f"peak {row['peak_rss_mib']:.0f} MiB, {row['requests']} req, {row['bytes_sent'] / 1e6:.1f} MB, "
              f"+{row['added']}/-{row['removed']}, cache {_cache_note(row)}", flush=True)
    for name, ok in checks.items():
        print(f"   {'ok  ' if ok else 'FAIL'} {name}", flush=True)
    for db in (contacts_db, meta_db):
        db.dispose()
        try:  # best effort: an autovacuum worker on the fresh tables can refuse FORCE for a while
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db.url.database}" WITH (FORCE)'))
        except sa.exc.DBAPIError as err:
            print(f"   (left database {db.url.database}: {str(err.orig).strip().splitlines()[0]})", flush=True)
    return {"contacts": contacts, "generate_s": build_s, "floor": fl, "scenarios": rows, "checks": checks,
            "latency_s": latency}


def _cache_note(row: dict) -> str:
    cache = row.get("identifier_cache") or {}
    return "; ".join(
        f"{role} {c['state']} {c['reused']:,} reused {c['hashed']:,} hashed" for role, c in cache.items()
    ) or "n/a"


def start_sandbox(latency: float, qps_limit: int):
    from tiktok_sandbox.config import SandboxConfig
    from tiktok_sandbox.server import SandboxServer

    # processing_seconds=0: the audience is "processed" at once (TikTok's 24-48 h is not what we
    # measure); no REPLACE cooldown so the naive approach can REPLACE on every run.
    server = SandboxServer(SandboxConfig(processing_seconds=0.0, qps_limit=qps_limit, replace_cooldown_seconds=0.0,
                                         request_log_limit=100_000))
    server.start()
    if latency > 0:
        import requests

        requests.post(f"{server.url}/_sandbox/faults", json={"path": "*", "latency_seconds": latency,
                                                             "times": 10**9}, timeout=10).raise_for_status()
    return server


def machine() -> dict:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    with sa.create_engine(PG_URL).connect() as conn:
        pg = conn.execute(sa.text("SHOW server_version")).scalar()
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem, 1), "python": platform.python_version(),
            "postgresql": pg, "kernel": platform.release()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--latency", type=float, default=0.2, help="seconds added to every TikTok request")
    parser.add_argument("--qps", type=int, default=10, help="TikTok app-level QPS limit (Basic tier: 10)")
    parser.add_argument("--profile", action="store_true", help="cProfile every task (slower)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    sandbox = start_sandbox(args.latency, args.qps)
    results = {"machine": machine(), "command": " ".join(sys.argv), "latency_s": args.latency, "qps_limit": args.qps,
               "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "sizes": []}
    try:
        for size in args.sizes:
            sandbox.state.reset()  # keeps config; drops the latency fault: re-add it
            if args.latency > 0:
                import requests

                requests.post(f"{sandbox.url}/_sandbox/faults", json={"path": "*", "latency_seconds": args.latency,
                                                                      "times": 10**9}, timeout=10).raise_for_status()
            results["sizes"].append(run_size(size, admin, sandbox, args.latency, args.profile, args.out))
            (args.out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    finally:
        sandbox.stop()
    import report

    report.write(results, args.out)
    failed = [f"{s['contacts']}: {name}" for s in results["sizes"] for name, ok in s["checks"].items() if not ok]
    if failed:
        sys.exit("correctness checks failed: " + "; ".join(failed))


if __name__ == "__main__":
    main()
