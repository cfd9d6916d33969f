"""The claims worker: runs ClaimWorkflow and its activities on the `claims` task queue.

    python worker.py        # TEMPORAL_ADDRESS unset: starts the embedded dev server under var/ first
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import subprocess
import sys
import threading

import structlog
from temporalio.client import Client

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
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _stop, stopping, settings)
    engine = make_engine(settings.resolved_database_url, pre_ping=False)  # its activities retry (db/engine.py)
    # Starts the embedded server first, if it is the one; a cluster that is down is waited for.
    client = await connected(settings, stopping)
    if client is None:
        return
    children = more_processes(settings, settings.worker_processes - 1)
    workers = [build_worker(client, settings, engine)]
    # The OCR task queue too (see ocr/worker.py), unless OCR workers run apart; the first process only.
    if settings.read_documents and settings.ocr_in_worker:
        workers.append(build_ocr_worker(client, settings))
    log.info("worker started", task_queue=settings.task_queue, namespace=settings.temporal_namespace,
             temporal=settings.temporal_address or "embedded", database=engine.url.render_as_string(),
             processes=settings.worker_processes, cache=settings.worker_cache_size)
    settle_garbage_collector()
    runs = [asyncio.create_task(w.run()) for w in workers]
    stop = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait([*runs, stop], return_when=asyncio.FIRST_COMPLETED)
        for child in children:  # they drain the same way, side by side with this one
            child.terminate()
        if stopping.is_set():
            log.info("worker stopping: no new tasks; activities under way may finish",
                     within_seconds=settings.worker_shutdown_seconds)
        await asyncio.gather(*(w.shutdown() for w in workers if w.is_running), return_exceptions=True)
        for run in runs:
            if run.done() and not run.cancelled() and run.exception() is not None:
                raise run.exception()  # type: ignore[misc]
    finally:
        stop.cancel()
        for child in children:
            try:
                child.wait(timeout=settings.worker_shutdown_seconds + 5)
            except subprocess.TimeoutExpired:
                child.kill()
        shutdown_tracing()
    log.info("worker stopped", task_queue=settings.task_queue)


async def connected(settings: Settings, stopping: asyncio.Event) -> Client | None:
    """A client once Temporal answers, waiting with backoff (up to 30 s between tries) while it does not: a worker
    started before its cluster, or during an outage, serves as soon as it can. None when told to stop first."""
    pause = 1.0
    while True:
        try:
            return await connect(settings, metrics=True, service="claims-worker")
        except RuntimeError as err:  # the SDK's "Failed client connect"
            log.warning("waiting for Temporal", temporal=settings.temporal_address or "embedded",
                        error=str(err).splitlines()[0][:200], retry_in_seconds=pause)
        try:
            await asyncio.wait_for(stopping.wait(), timeout=pause)
            return None
        except TimeoutError:
            pause = min(pause * 2, 30.0)


YOUNG_COLLECTION_EVERY = 20_000
"""Container objects allocated (net) between two collections of the youngest generation (Python's default: 700)."""


def settle_garbage_collector() -> None:
    """The collector tuned for a worker: what starting up made (the modules, the settings, the rules; objects that
    live as long as the process) is set aside and never traversed again, and the young generation is collected every
    20,000 net allocations rather than 700: about every twenty fast-path claims rather than at each. Most of a
    claim's garbage has no cycles and is freed at once by reference counting. On the fast path the collector took
    4.7 % of a worker's CPU, 0.8 % since (bench/README.md)."""
    gc.collect()  # what start-up left unreachable is freed, not frozen
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, old)


def _stop(stopping: asyncio.Event, settings: Settings) -> None:
    """SIGTERM or SIGINT: drain, and in any case exit within the shutdown time and a few seconds more."""
    if not stopping.is_set():
        stopping.set()
        bound = threading.Timer(settings.worker_shutdown_seconds + 10, _exit_now, args=(2,))
        bound.daemon = True
        bound.start()


def _exit_now(code: int) -> None:
    """The bound on an exit: past it, whatever still runs (the SDK runtime's threads) is not waited for."""
    log.warning("worker did not stop in time: exiting")
    logging.shutdown()
    sys.stdout.flush()
    os._exit(code)


def run() -> int:
    """Run the worker to its end; the exit code."""
    try:
        asyncio.run(main())
    except SystemExit as err:
        if isinstance(err.code, str):
            print(err.code, file=sys.stderr)  # noqa: T201 (the command's own error line)
            return 1
        return err.code or 0
    except BaseException:  # noqa: BLE001 (logged, and the process ends with a failure)
        log.exception("worker failed")
        return 1
    return 0


if __name__ == "__main__":
    code = run()
    # The drain is done: nothing is left to wait for. The interpreter's own finalisation may wait on the SDK
    # runtime's threads, so the process ends here.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
