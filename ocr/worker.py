"""The OCR workers: `read_document` on the OCR task queue (`CLAIMS_OCR_TASK_QUEUE`, default `claims-ocr`).

`python -m ocr` runs one: as many processes as the pages need, apart from the claims workers. The claims worker
(`worker.py`) also serves the queue unless `CLAIMS_OCR_IN_WORKER=false`, so a single machine needs nothing more.
A stopped OCR worker loses nothing: the claims waiting for a reading wait on the queue and go on when one returns.
"""

from __future__ import annotations

import asyncio
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from config.logging import configure_logging
from config.settings import Settings, get_settings
from config.temporal import connect
from documents.store import DocumentStore, store_for
from ocr.activities import OcrActivities

log = structlog.get_logger(__name__)


def build_ocr_worker(client: Client, settings: Settings, *, task_queue: str | None = None,
                     store: DocumentStore | None = None) -> Worker:
    """A worker reading pages one at a time per process (the engine uses every core for one page)."""
    activities = OcrActivities(store or store_for(settings))
    return Worker(client, task_queue=task_queue or settings.ocr_task_queue, activities=[activities.read_document],
                  activity_executor=ThreadPoolExecutor(max_workers=2), max_concurrent_activities=2,
                  graceful_shutdown_timeout=timedelta(seconds=settings.worker_shutdown_seconds))


async def main() -> None:
    settings = get_settings()
    configure_logging(settings)
    client = await connect(settings, service="claims-ocr")
    worker = build_ocr_worker(client, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("OCR worker started", task_queue=settings.ocr_task_queue, cores=os.cpu_count())
    async with worker:
        await stop.wait()
    log.info("OCR worker stopped")
