"""``tiktok-audiences table``: the audiences table of the page (:mod:`tiktok_audiences.reporting`), as text or JSON."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tiktok_audiences.reporting import AudienceRow, LookalikeRow


def add_command(commands) -> None:
    table = commands.add_parser("table", help="print the audiences table (Name, Match, Size, Status, Last Sync)")
    table.add_argument("--meta-url", default=None, help="SQLAlchemy URL of the metadata database "
                       "(default: the tiktok_audiences_meta connection)")
    table.add_argument("--json", action="store_true", help="print JSON instead of a table")
    table.set_defaults(run=run)


def audience_rows(store) -> list[dict[str, Any]]:
    """The audiences table as users see it on the audiences page (the rows of
    :mod:`tiktok_audiences.reporting`), as JSON: what ``table --json`` prints and :func:`format_table` reads."""
    from tiktok_audiences import reporting
    from tiktok_audiences.metadata import utcnow

    now = utcnow()
    # Without the audience's definition: a lookalike's message is the one stored, as TikTok or the run left it.
    lookalikes = {raw["audience_key"]: reporting.lookalike_row(raw, now) for raw in store.list_lookalikes()}
    return [
        _record(reporting.audience_row(raw, now), lookalikes.get(raw["audience_key"]))
        for raw in store.list_audiences()
    ]


def _record(row: AudienceRow, lookalike: LookalikeRow | None) -> dict[str, Any]:
    return {
        "name": row.name,
        "match": row.match,
        "size": row.size,
        "status": row.status,
        "last_sync": _timestamp(row.last_sync_at),
        "message": row.message,
        # The audience's lookalike (its size is TikTok's reach, its time when TikTok last built it).
        "lookalike": None if lookalike is None else {
            "name": lookalike.name,
            "tiktok_audience_id": lookalike.tiktok_audience_id,
            "size": lookalike.size,
            "status": lookalike.status,
            "built": _timestamp(lookalike.built_at),
            "message": lookalike.message,
        },
    }


def _timestamp(when: datetime | None) -> str | None:
    """A metadata time (naive UTC) as ISO 8601 with ``Z``."""
    return when.isoformat() + "Z" if when else None


def format_table(rows: list[dict[str, Any]], now: datetime | None = None) -> str:
    from tiktok_audiences.metadata import utcnow
    from tiktok_audiences.reporting import elapsed

    now = now or utcnow()
    header = ("Name", "Match", "Size", "Status", "Last Sync")
    lines = []
    for r in rows:
        lines.append((
            r["name"],
            "-" if r["match"] is None else f"{r['match']:.1f}%",
            "-" if r["size"] is None else f"{r['size']:,}",
            r["status"],
            elapsed(datetime.fromisoformat(r["last_sync"].rstrip("Z")), now) if r["last_sync"] else "never",
        ))
        if r.get("lookalike"):
            lookalike = r["lookalike"]
            lines.append((
                f"  lookalike: {lookalike['name']}",
                "-",
                "-" if lookalike["size"] is None else f"{lookalike['size']:,}",
                lookalike["status"],
                elapsed(datetime.fromisoformat(lookalike["built"].rstrip("Z")), now) if lookalike["built"] else "never",
            ))
    widths = [max(len(str(v)) for v in column) for column in zip(header, *lines, strict=False)]
    out = ["  ".join(str(v).ljust(w) for v, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)) for line in lines]
    notes = [f"  {r['name']}: {r['message']}" for r in rows if r["message"]]
    notes += [f"  {r['lookalike']['name']}: {r['lookalike']['message']}" for r in rows
              if r.get("lookalike") and r["lookalike"]["message"]]
    if notes:
        out += ["", "Notes:", *notes]
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    from tiktok_audiences.metadata import AudienceStore, open_store

    if args.meta_url:
        import sqlalchemy as sa

        store = AudienceStore(sa.create_engine(args.meta_url))
        store.migrate()
    else:
        store = open_store()
    rows = audience_rows(store)
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    return 0
