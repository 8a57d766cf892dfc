"""Turn bench/results/results.json into a Markdown table (results.md) and a PNG plot (bench.png)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

STAGES = ("extract", "normalize_hash", "set_ops_diff", "upload", "record")


def _n(value, fmt: str = ",.0f") -> str:
    """A number, or "n/a" when the run did not record it."""
    return "n/a" if value is None else format(value, fmt)


def table(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"Machine: {m['cpus']} CPUs ({m['cpu']}), {m['memory_gib']} GiB RAM, Linux {m['kernel']}, "
        f"Python {m['python']}, PostgreSQL {m['postgresql']}. Started {results['started']}.",
        f"Command: `{results['command']}`; sandbox latency {results['latency_s']} s per TikTok request, "
        f"QPS limit {results['qps_limit']}.",
        "",
        "| contacts | scenario | wall s | extract | normalize+hash | set ops+diff | upload | record | "
        "× floor (wall) | × floor (stages) | peak RSS MiB (extract / sync) | identifiers | ids/s | sent (+/−) | "
        "requests | bytes sent |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in results["sizes"]:
        fl = size["floor"]
        lines.append(
            f"| {size['contacts']:,} | **floor** (COPY out {fl['stream_s']:.2f} s + SHA-256 {fl['sha256_s']:.2f} s of "
            f"{fl['values']:,} values) | {fl['total_s']:.2f} | {fl['stream_s']:.2f} | {fl['sha256_s']:.2f} "
            f"| | | | 1.0 | 1.0 | | | | | | {_n(fl['stream_bytes'])} read |"
        )
        for r in size["scenarios"]:
            t = r["timings"]
            lines.append(
                f"| {size['contacts']:,} | {r['scenario']} | {r['wall_s']:.2f} | "
                + " | ".join(f"{t.get(k, 0):.2f}" for k in STAGES)
                + f" | {r['ratio_to_floor']:.1f} | {r['stage_ratio_to_floor']:.1f} | "
                f"{_n(r['peak_rss_extract_mib'])} / {_n(r['peak_rss_sync_mib'])} (max {r['peak_rss_mib']:.0f}) | "
                f"{_n(r['identifiers'])} | {_n(r['ids_per_s'])} | +{r['added']:,} / −{r['removed']:,} | "
                f"{r['requests']} | {'≈' if r.get('bytes_approx') else ''}{r['bytes_sent']:,} |"
            )
    lines += ["", "| contacts | changed identifiers (TikTok before Δ after) | sent by incremental | sent / changed | "
              "naive REPLACE: s / bytes | ours (incremental): s / bytes | checks |",
              "|---:|---:|---:|---:|---:|---:|---|"]
    for size in results["sizes"]:
        by = {r["scenario"]: r for r in size["scenarios"]}
        inc, naive = by["incremental"], by["naive_replace"]
        ratio = inc["sent_identifiers"] / inc["changed_identifiers"] if inc["changed_identifiers"] else None
        ok = all(size["checks"].values())
        lines.append(
            f"| {size['contacts']:,} | {_n(inc['changed_identifiers'])} | {inc['sent_identifiers']:,} | "
            f"{_n(ratio, '.3f')} | "
            f"{naive['wall_s']:.1f} / {naive['bytes_sent']:,} | {inc['wall_s']:.1f} / {inc['bytes_sent']:,} | "
            f"{'all pass' if ok else 'FAILED: ' + ', '.join(k for k, v in size['checks'].items() if not v)} |"
        )
    lines += ["", "| contacts | scenario | identifier cache, include: state / contacts reused / hashed | exclude | "
              "load avg (1 min) before → after |", "|---:|---|---|---|---|"]
    for size in results["sizes"]:
        for r in size["scenarios"]:
            cache = r.get("identifier_cache") or {}
            cells = [f"{c['state']} / {c['reused']:,} / {c['hashed']:,}" if (c := cache.get(role)) else "n/a"
                     for role in ("include", "exclude")]
            load = r.get("loadavg_1m")
            lines.append(f"| {size['contacts']:,} | {r['scenario']} | {cells[0]} | {cells[1]} | "
                         f"{f'{load[0]:.1f} → {load[1]:.1f}' if load else 'n/a'} |")
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    sizes = [s["contacts"] for s in results["sizes"]]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name in ("first", "incremental", "nochange", "naive_replace"):
        ax1.plot(sizes, [next(r for r in s["scenarios"] if r["scenario"] == name)["wall_s"] for s in results["sizes"]],
                 marker="o", label=name)
        ax2.plot(sizes, [next(r for r in s["scenarios"] if r["scenario"] == name)["peak_rss_mib"]
                         for s in results["sizes"]], marker="o", label=name)
    ax1.plot(sizes, [s["floor"]["total_s"] for s in results["sizes"]], "k--", marker="x", label="floor")
    for ax, label in ((ax1, "wall time, s (extract + sync task)"), (ax2, "peak RSS of a task process, MiB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("contacts")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"tiktok-audience-sync benchmark ({results['machine']['cpus']} CPUs)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def write(results: dict, out: Path) -> None:
    (out / "results.md").write_text(table(results))
    plot(results, out / "bench.png")
    print(table(results))


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "results"
    write(json.loads((folder / "results.json").read_text()), folder)
