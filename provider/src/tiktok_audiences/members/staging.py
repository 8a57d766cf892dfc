"""Where one run's hashed member files live between tasks.

Large data never travels through XCom: the extract task writes Parquet files of *hashed*
identifiers under an :class:`~airflow.sdk.ObjectStoragePath` base (a local folder by default;
``s3://``, ``gs://`` and the like work unchanged when a run's tasks land on different workers), and
XCom carries only the folder's URL and counts. The teardown task removes the folder, also when the
run failed.

No Airflow import at module level: only :func:`run_folder` and :func:`run_folder_from_url` make an
``ObjectStoragePath``; everything else takes a :class:`StoragePath`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import IO, Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tiktok_audiences.members.membership import KEY_WIDTH, MemberKeys, keys_array

#: A member row: the contact and one identifier as a 33-byte key (type byte + binary SHA-256, see
#: :class:`tiktok_audiences.members.membership.Identifiers`) — half the bytes of hex strings, nothing to parse.
MEMBER_SCHEMA = pa.schema([("contact_id", pa.int64()), ("key", pa.binary(33))])
STATIC_MEMBER_SCHEMA = pa.schema([("segment_id", pa.int64()), ("contact_id", pa.int64())])


class StoragePath(Protocol):
    """What these files need of a folder or file: ``pathlib.Path`` or :class:`~airflow.sdk.ObjectStoragePath`.

    (Only :func:`remove_folder` needs ``ObjectStoragePath``'s recursive ``rmdir``.)
    """

    @property
    def name(self) -> str: ...
    @property
    def parent(self) -> StoragePath: ...
    def __truediv__(self, key: str) -> StoragePath: ...
    def open(self, mode: str = ...) -> IO[Any]: ...
    def exists(self) -> bool: ...
    def mkdir(self, mode: int = ..., parents: bool = ..., exist_ok: bool = ...) -> None: ...
    def iterdir(self) -> Iterator[StoragePath]: ...
    def unlink(self, missing_ok: bool = ...) -> None: ...
    def rmdir(self, recursive: bool = ...) -> None: ...
    def read_text(self, encoding: str | None = ...) -> str: ...
    def write_text(self, data: str, encoding: str | None = ...) -> int: ...


def run_folder(base_url: str, dag_id: str, run_id: str) -> StoragePath:
    """The folder of one DAG run (run ids contain ':' and '+', unsafe in some object stores)."""
    # The one Airflow object staging needs (a run's tasks may land on workers that share only an
    # object store); imported here so that the room imports without Airflow.
    from airflow.sdk import ObjectStoragePath

    safe_run = re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)
    return ObjectStoragePath(base_url.rstrip("/")) / dag_id / safe_run


def run_folder_from_url(url: str) -> StoragePath:
    """The run folder named in the extract task's summary."""
    from airflow.sdk import ObjectStoragePath  # see run_folder

    folder: StoragePath = ObjectStoragePath(url)
    return folder


def write_frames(path: StoragePath, frames: Iterable[pd.DataFrame | pa.Table], schema: pa.Schema) -> int:
    """Stream frames (pandas or Arrow) into one Parquet file; returns the number of rows written."""
    rows = 0
    with path.open("wb") as handle, pq.ParquetWriter(handle, schema) as writer:
        for frame in frames:
            if len(frame) == 0:
                continue
            if isinstance(frame, pd.DataFrame):
                frame = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
            writer.write_table(frame.cast(schema))
            rows += len(frame)
        if rows == 0:
            writer.write_table(schema.empty_table())
    return rows


def read_frame(path: StoragePath) -> pd.DataFrame:
    with path.open("rb") as handle:
        table = pq.read_table(handle)
    frame: pd.DataFrame = table.to_pandas()
    for column in ("id_type", "id_hash"):
        if column in frame:
            frame[column] = frame[column].astype("str")
    return frame


def read_member_keys(path: StoragePath, batch_size: int = 500_000) -> MemberKeys:
    """A member file as :class:`~tiktok_audiences.members.membership.MemberKeys`, read batch by batch into
    arrays sized up front (never two copies of the keys)."""
    with path.open("rb") as handle:
        parquet = pq.ParquetFile(handle, pre_buffer=False)
        rows = parquet.metadata.num_rows
        ids = np.empty(rows, dtype=np.int64)
        keys = np.empty((rows, KEY_WIDTH), dtype=np.uint8)
        at = 0
        for batch in parquet.iter_batches(batch_size=batch_size, columns=["contact_id", "key"]):
            n = batch.num_rows
            ids[at : at + n] = batch.column(0).to_numpy()
            column = batch.column(1)
            keys[at : at + n] = np.frombuffer(column.buffers()[1], dtype=np.uint8, count=n * KEY_WIDTH,
                                              offset=column.offset * KEY_WIDTH).reshape(n, KEY_WIDTH)
            at += n
    return MemberKeys(ids[:at], keys_array(keys[:at]))


def remove_folder(path: StoragePath) -> bool:
    """Delete a run folder and everything in it; False if it did not exist."""
    if not path.exists():
        return False
    path.rmdir(recursive=True)
    return True
