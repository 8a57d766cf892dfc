"""Uploaded customer files (``dmp/custom_audience/file/upload/``), addressed by their ``file_path``."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tiktok_sandbox.errors import ApiError, Code, parameter_error
from tiktok_sandbox.identifiers import MemberSets, storage_key
from tiktok_sandbox.state.base import StateBase


@dataclass(frozen=True)
class UploadedFile:
    """A parsed customer file, addressable by its opaque ``file_path``."""

    file_path: str
    advertiser_id: str
    calculate_type: str
    members: dict[str, frozenset[str]]
    uploaded_at: float
    name: str | None


class UploadedFiles(StateBase):
    """The parsed uploads, kept until ``file_ttl_seconds`` after their upload."""

    _files: dict[str, UploadedFile]

    def store_file(
        self, advertiser_id: str, calculate_type: str, members: dict[str, frozenset[str]], name: str | None
    ) -> str:
        """Keep a parsed upload and return its opaque file_path (16 hex chars, as TikTok's yml)."""
        with self._lock:
            now = self.now()
            self._purge_expired_files(now)
            file_path = secrets.token_hex(8)
            self._files[file_path] = UploadedFile(
                file_path=file_path,
                advertiser_id=advertiser_id,
                calculate_type=calculate_type,
                members=members,
                uploaded_at=now,
                name=name,
            )
            return file_path

    def _purge_expired_files(self, now: float) -> None:
        # Expired files can hold millions of hashes; drop them instead of letting memory grow.
        ttl = self._config.file_ttl_seconds
        for path in [p for p, f in self._files.items() if now - f.uploaded_at > ttl]:
            del self._files[path]

    def _resolve_files(self, advertiser_id: str, file_paths: Sequence[str], calculate_type: str) -> list[UploadedFile]:
        """Return the files behind ``file_paths``; they must be live, owned and of one type."""
        now = self.now()
        self._purge_expired_files(now)
        files = []
        for path in dict.fromkeys(file_paths):
            uploaded = self._files.get(path)
            # Another advertiser's file is reported exactly like a missing one: TikTok does not
            # reveal that a file_path exists elsewhere.
            if uploaded is None or uploaded.advertiser_id != advertiser_id:
                raise ApiError(
                    Code.FILE_PATH_EXPIRED,
                    f"The file_path {path} does not exist or has expired. Please upload the file again.",
                )
            if uploaded.calculate_type != calculate_type:
                raise parameter_error(
                    "calculate_type",
                    f"file {path} was uploaded as {uploaded.calculate_type}, not {calculate_type}",
                )
            files.append(uploaded)
        return files


def merge_files(files: Iterable[UploadedFile], calculate_type: str) -> MemberSets:
    """Union the files' identifiers into fresh member sets keyed for an audience of ``calculate_type``."""
    merged: MemberSets = {}
    for uploaded in files:
        for column_type, values in uploaded.members.items():
            merged.setdefault(storage_key(calculate_type, column_type), set()).update(values)
    return merged
