"""The claims worker: runs ClaimWorkflow and its activities on the `claims` task queue.

    python worker.py        # TEMPORAL_ADDRESS unset: starts the embedded dev server under var/ first
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import structlog

from config.embedded import UnsafeIdentity, refuse_unsafe_identity
from config.logging import configure_logging
from config.settings import Settings, get_settings
from config.temporal import connect
from config.tracing import shutdown_tracing
from db.engine import make_engine
from ocr.worker import build_ocr_worker
from workers.claims import build_worker

log = structlog.get_logger(__name__)


def more_processes(settings: Settings, count: int) -> list[subprocess.Popen[bytes]]:
    """Further worker processes beside this one (`CLAIMS_WORKER_PROCESSES`): one Python process runs workflow
    code on one core, so a machine's cores are used by processes, each with its own cache and pollers. Each
    serves its metrics on the next port."""
    children = []
    for i in range(1, count + 1):
        env = {**os.environ, "CLAIMS_WORKER_PROCESSES": "1", "CLAIMS_OCR_IN_WORKER": "false"}
        if settings.metrics_address:
            host, _, port = settings.metrics_address.rpartition(":")
            env["CLAIMS_METRICS_ADDRESS"] = f"{host}:{int(port) + i}"
        children.append(subprocess.Popen([sys.executable, __file__], env=env))  # noqa: S603
    return children


async def main() -> None:
    settings = get_settings()
    configure_logging(settings)
    try:
        refuse_unsafe_identity(settings, "the worker")
    except UnsafeIdentity as err:
        raise SystemExit(f"error: {err}") from None
    engine = make_engine(settings.resolved_database_url)
    # Starts the embedded server first, if it is the one.
    client = await connect(settings, metrics=True, service="claims-worker")
    children = more_processes(settings, settings.worker_processes - 1)
    worker = build_worker(client, settings, engine)
    log.info("worker started", task_queue=settings.task_queue, namespace=settings.temporal_namespace,
             temporal=settings.temporal_address or "embedded", database=engine.url.render_as_string(),
             processes=settings.worker_processes, cache=settings.worker_cache_size)
    # The OCR task queue too (see ocr/worker.py), unless OCR workers run apart; the first process only.
    ocr = build_ocr_worker(client, settings) if settings.read_documents and settings.ocr_in_worker else None
    try:
        await asyncio.gather(worker.run(), *([ocr.run()] if ocr is not None else []))
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=30)
        shutdown_tracing()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so the other processes are ended with this one
    asyncio.run(main())
