"""What journaling a first sync's create set costs in the metadata database (PostgreSQL).

Times ``confirm_replaced`` of N identifiers alone (the record of a create before the journal) against
``begin_batch`` + ``confirm_replaced`` (the journal written before the create, cleared with it),
three times each, and prints the medians.

    python bench/journal_cost.py postgresql+psycopg2://tiktok:tiktok@127.0.0.1:5432/journal_bench [N]

The database must exist and be empty of other work; the rows it writes are left behind.
"""

from __future__ import annotations

import hashlib
import statistics
import sys
import time

import pandas as pd
import sqlalchemy as sa

from tiktok_audiences.metadata import AudienceStore


def main() -> None:
    url, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    frame = pd.DataFrame(
        {"id_type": "email", "id_hash": [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)]}
    )
    store = AudienceStore(sa.create_engine(url))
    store.migrate()
    plain, journaled = [], []
    for _ in range(3):
        store.forget_confirmed("journal-bench")
        started = time.perf_counter()
        store.confirm_replaced("journal-bench", frame)
        plain.append(time.perf_counter() - started)
        store.forget_confirmed("journal-bench")
        started = time.perf_counter()
        store.begin_batch("journal-bench", adding=frame)
        store.confirm_replaced("journal-bench", frame)
        journaled.append(time.perf_counter() - started)
    print(f"{n:,} identifiers: confirm_replaced alone median {statistics.median(plain):.2f} s "
          f"({', '.join(f'{x:.2f}' for x in plain)}); with the journal median {statistics.median(journaled):.2f} s "
          f"({', '.join(f'{x:.2f}' for x in journaled)})")


if __name__ == "__main__":
    main()
