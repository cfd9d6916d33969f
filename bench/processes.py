"""The benchmarks' worker processes: the claims' (`worker.py`) and the floor's (`bench/bare_worker.py`), started
against one Temporal server and database, with their CPU time and memory read from /proc."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client

from config.encryption import Keyring

ROOT = Path(__file__).resolve().parent.parent
KEY = bytes(range(32))
KEYRING = Keyring("bench", {"bench": KEY})
KEYS = "bench=" + base64.b64encode(KEY).decode()
"""The claims' payload key in the benchmarks: for the driver's client (KEYRING) and the workers' settings."""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Workers:
    """Worker processes of one kind on one task queue."""

    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.processes)

    def rss(self) -> float:
        return sum(rss_mib(p.pid) for p in self.processes)

    def stop(self) -> None:
        for p in self.processes:
            p.terminate()
        for p in self.processes:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


@dataclass
class Rig:
    address: str
    var: Path
    database_url: str
    client: Client  # with the claims' encrypting converter
    bare_client: Client
    http_address: str  # the server's HTTP API, which `starter.py status` asks over

    def env(self, queue: str, **extra: str) -> dict[str, str]:
        """A claims worker's environment: its letters go to a gateway that accepts them as a provider would (a
        worker with no sender fails every letter, and the benchmark would measure the failures)."""
        return {**os.environ, "TEMPORAL_ADDRESS": self.address, "DATABASE_URL": self.database_url,
                "CLAIMS_VAR_DIR": str(self.var), "CLAIMS_TASK_QUEUE": queue, "CLAIMS_ENCRYPTION_KEYS": KEYS,
                "CLAIMS_LOG_FORMAT": "json", "CLAIMS_SLA_PROFILE": "statutory",
                "CLAIMS_MESSAGE_GATEWAY": "testkit.messages:AcceptingGateway", **extra}

    def claims_workers(self, queue: str, count: int = 1, **extra: str) -> Workers:
        log = (self.var / f"worker-{queue}.log").open("ab")
        env = self.env(queue, **extra)
        return Workers([subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=log, stderr=log)
                        for _ in range(count)])

    def bare_workers(self, queue: str, count: int = 1, cache: int = 1000) -> Workers:
        return Workers([subprocess.Popen([sys.executable, "bench/bare_worker.py", self.address, queue, str(cache)],
                                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
                        for _ in range(count)])
