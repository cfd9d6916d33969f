"""What `make demo` leaves running: the API (the staff workbench, the claimants' pages, the codec server), a worker
for the claims the workbench and the API start (on the statutory clock), and one that keeps the sample claims'
timers moving (on the demo's), each a process of its own in the background with its pid under the var directory.
`make stop` ends them with the embedded server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from config.settings import PROJECT_ROOT, Settings

PROCESSES = {"api": [sys.executable, "-m", "api"], "worker": [sys.executable, "worker.py"],
             "demo-worker": [sys.executable, "worker.py"]}


def demo_queue(settings: Settings) -> str:
    """The task queue of the demo's sample claims, whose days last a second: apart from the claims the workbench
    and the API start, which keep the statutory clock."""
    return f"{settings.task_queue}-demo"


def _environment(settings: Settings, name: str) -> dict[str, str]:
    """The workbench's worker keeps the statutory clock (a claim reported after the demo waits for days, as in
    production); the sample claims' worker keeps the demo's (a day a second) on the demo's queue, so their pages
    and after-closing windows go on answering."""
    if name == "worker":
        return {**os.environ, "CLAIMS_SLA_PROFILE": "statutory"}
    if name == "demo-worker":
        return {**os.environ, "CLAIMS_SLA_PROFILE": "demo", "CLAIMS_TASK_QUEUE": demo_queue(settings),
                "CLAIMS_OCR_IN_WORKER": "false"}
    return dict(os.environ)


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
                                   stdin=subprocess.DEVNULL, start_new_session=True,
                                   env=_environment(settings, name))
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


def stop_background(settings: Settings, seconds: float = 15) -> list[str]:
    """End what `start_background` started, and wait until they have: call it before the embedded server stops,
    since a worker shuts down through the server (one left without it would linger). The names of those that
    were running; any still there after `seconds` is killed."""
    stopped: dict[str, int] = {}
    for name in PROCESSES:
        pid_file = settings.var_dir / f"{name}.pid"
        if _running(settings, name):
            stopped[name] = int(pid_file.read_text())
            os.killpg(stopped[name], signal.SIGTERM)
    deadline = time.monotonic() + seconds
    while any(_alive(pid) for pid in stopped.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    for name, pid in stopped.items():
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
        (settings.var_dir / f"{name}.pid").unlink(missing_ok=True)
    return list(stopped)


def _alive(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)  # our own child (the demo's process): reap it
        if finished:
            return False
    except ChildProcessError:
        pass  # started by another process (`make demo` before `make stop`)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
