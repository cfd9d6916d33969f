"""What `make demo` leaves running: the API (the staff workbench, the claimants' pages, the codec server) and a
worker that keeps the sample claims' timers moving, each a process of its own in the background with its pid
under the var directory. `make stop` ends them with the embedded server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from config.settings import PROJECT_ROOT, Settings

PROCESSES = {"api": [sys.executable, "-m", "api"], "worker": [sys.executable, "worker.py"]}


def _running(settings: Settings, name: str) -> bool:
    pid_file = settings.var_dir / f"{name}.pid"
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (ProcessLookupError, ValueError):
        return False
    return True


def start_background(settings: Settings) -> str:
    """Start the API and a worker unless they run already; the API's address once it answers."""
    url = f"http://{settings.api_host}:{settings.api_port}"
    for name, command in PROCESSES.items():
        if _running(settings, name):
            continue
        log = (settings.var_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,  # noqa: S603
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        (settings.var_dir / f"{name}.pid").write_text(str(process.pid))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return url
        except httpx.TransportError:
            pass
        if not _running(settings, "api"):
            break
        time.sleep(0.3)
    raise RuntimeError(f"the API did not start on {url}; see {settings.var_dir / 'api.log'} "
                       "(CLAIMS_API_PORT chooses another port)")


def stop_background(settings: Settings) -> list[str]:
    """End what `start_background` started; the names of those that were running."""
    stopped = []
    for name in PROCESSES:
        pid_file = settings.var_dir / f"{name}.pid"
        if _running(settings, name):
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
            stopped.append(name)
        pid_file.unlink(missing_ok=True)
    return stopped
