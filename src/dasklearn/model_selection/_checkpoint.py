"""Durable, append-only record of finished fits, so a search can resume.

Format: JSON lines. The first line is a header holding a fingerprint of
everything that determines the results (search class, estimator, candidates,
splits, scoring, data). Each further line is one finished (candidate, split)
record with a CRC32 of its content. Lines are appended, flushed and fsynced
as results arrive. A crash mid-write leaves at most one torn last line;
loading stops at the first line that fails to parse or check, and the file is
truncated back to the last good line before anything new is appended.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib

_FORMAT = "dasklearn-search-checkpoint"
_VERSION = 1


def fingerprint(*parts) -> str:
    """A stable hash of the search's defining arguments and its data."""
    import joblib
    from dask.base import is_dask_collection, tokenize

    h = hashlib.sha256()
    for part in parts:
        token = tokenize(part) if is_dask_collection(part) else joblib.hash(part)
        h.update(str(token).encode())
    return h.hexdigest()


def _line(entry) -> str:
    body = json.dumps(entry, sort_keys=True)
    return json.dumps({"e": entry, "crc": zlib.crc32(body.encode())}, sort_keys=True)


def _parse(line: str):
    try:
        wrapped = json.loads(line)
        entry = wrapped["e"]
        if zlib.crc32(json.dumps(entry, sort_keys=True).encode()) != wrapped["crc"]:
            return None
        return entry
    except (ValueError, KeyError, TypeError):
        return None


class Checkpoint:
    """Records of finished work at ``path`` for the search ``fingerprint``."""

    def __init__(self, path, fingerprint: str, kind: str = "search"):
        self.path = os.fspath(path)
        self.fingerprint = fingerprint
        self.kind = kind

    def load(self) -> list:
        """Entries already recorded (creating the file if needed).

        Raises ValueError if the file was written for a different search.
        """
        if not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
            header = {"format": _FORMAT, "version": _VERSION, "kind": self.kind,
                      "fingerprint": self.fingerprint}
            with open(self.path, "w") as fh:
                fh.write(json.dumps(header) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            return []
        entries, good_end = [], 0
        with open(self.path, "rb") as fh:
            first = fh.readline()
            try:
                header = json.loads(first)
            except ValueError:
                header = None
            if not isinstance(header, dict) or header.get("format") != _FORMAT:
                raise ValueError(
                    f"checkpoint={self.path!r} is not a dasklearn checkpoint file. Pass a new "
                    "path (the file is created) or remove that file."
                )
            if header.get("fingerprint") != self.fingerprint or header.get("kind") != self.kind:
                raise ValueError(
                    f"checkpoint={self.path!r} was written by a different search (other "
                    "estimator, parameters, splits, scoring or data), so its results cannot "
                    "be reused. Pass a new checkpoint path, or delete the file to start over."
                )
            good_end = fh.tell()
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break  # torn last line: a crash mid-write
                entry = _parse(raw.decode(errors="replace"))
                if entry is None:
                    break
                entries.append(entry)
                good_end += len(raw)
        if good_end < os.path.getsize(self.path):
            with open(self.path, "r+b") as fh:
                fh.truncate(good_end)
                fh.flush()
                os.fsync(fh.fileno())
        return entries

    def append(self, entries: list) -> None:
        """Durably append ``entries`` (JSON-serialisable) in one write."""
        if not entries:
            return
        data = "".join(_line(e) + "\n" for e in entries)
        with open(self.path, "a") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
