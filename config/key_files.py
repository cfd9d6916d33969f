"""Key files made on first use by the embedded default (payload keys, the development issuer's signing key, the
code secret): written whole under their final name, readable by their owner only."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def write_once(path: Path, content: bytes, mode: int) -> None:
    """Write a whole file under its final name, unless another process got there first (a worker and the
    command line may both make the key on first use)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.chmod(tmp, mode)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)

