"""Writing a file so that under its final name it is always whole: written under a temporary name, flushed to
disk, checked, renamed, and the folder flushed so the rename survives a crash."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path


def write_whole(path: Path, content: bytes, check: Callable[[bytes], object] | None = None) -> None:
    """Write `content` to `path` atomically; `check` sees the bytes read back before the rename (and raises to
    stop it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        if check is not None:
            check(tmp.read_bytes())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
