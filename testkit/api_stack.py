"""The whole product as `make run` starts it, for the HTTP API tests: an embedded Temporal server, a worker
process and API processes, each a real process on real ports, against one SQLite database under a temporary
folder. Tests talk to it over HTTP only, and read what a claimant receives from the outbox folder."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from config.encryption import keyring_for
from config.settings import PROJECT_ROOT, Settings
from config.temporal import ensure_embedded_server, free_port, stop_embedded_server
from identity import development
from letters.senders import letters_of, read_letter
from letters.sms import code_in
from testkit.waiting import STATE_DEADLINE, polled
from testkit.world import sample_policies

UPLOAD_LIMIT = 256 * 1024
"""The stack's upload limit: small, so a test can go past it cheaply."""


@dataclass
class Stack:
    var_dir: Path
    env: dict[str, str]
    url: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return Settings(CLAIMS_VAR_DIR=self.var_dir)

    def token(self, subject: str, *roles: str) -> str:
        return development.mint(self.var_dir, subject=subject, roles=roles, audience="claims")

    def auth(self, subject: str, *roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(subject, *roles)}"}

    def client(self, url: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=url or self.url, timeout=30)

    def code_received(self, claim_id: str, purpose: str) -> str:
        """The code in the latest letter of this purpose: what the claimant reads on the phone. It is waited for: the
        code of a claim whose workflow has ended is sent by a workflow the page starts without waiting for it."""
        letters = polled(lambda: letters_of(self.var_dir / "outbox", claim_id, f"code_{purpose}"), bool,
                         f"a {purpose} code reached the outbox of claim {claim_id}")
        found = code_in(read_letter(keyring_for(self.settings), letters[-1]))
        assert found, letters[-1]
        return found

    def report(self, prefix: str, documents: tuple[str, ...] | None = None, **changes: Any) -> str:
        """The sample claim (`samples/claim-over-http.json`) with these changes, reported over HTTP as the portal
        channel under a new id starting with `prefix`; with `documents`, those kinds instead of the sample's.
        The claim's id."""
        claim = json.loads((PROJECT_ROOT / "samples" / "claim-over-http.json").read_text(encoding="utf-8"))
        claim.update({"claim_id": f"{prefix}-{secrets.token_hex(4)}", **changes})
        if documents is not None:
            claim["documents"] = [{"kind": k, "ref": f"doc://{prefix.lower()}/{claim['claim_id']}/{k}.pdf"}
                                  for k in documents]
        with self.client() as http:
            answer = http.post("/claims", json=claim, headers={**self.auth("portal", "channel"),
                                                               "Idempotency-Key": claim["claim_id"]})
            assert answer.status_code == 201, answer.text
        return str(claim["claim_id"])

    @property
    def ui_url(self) -> str:
        """The embedded Temporal web UI, whose codec endpoint is this stack's first API."""
        return f"http://127.0.0.1:{self.env['CLAIMS_EMBEDDED_UI_PORT']}"

    def start_api(self, port: int | None = None, **extra_env: str) -> str:
        """Another API process on a port of its own (with other settings, say): its URL. A port that was free when
        chosen and that another process (another suite's server, a demo beside the tests) took before the API bound
        it is given up for another, and the stack's settings follow."""
        own = port is not None and self.env.get("CLAIMS_API_PORT") == str(port)  # the stack's first API
        for _ in range(3):
            port = port or free_port()
            env = {**self.env, **extra_env, "CLAIMS_API_PORT": str(port)}
            log = self.var_dir / f"api-{port}.log"
            self.processes.append(_spawn([sys.executable, "-m", "api"], env, log))
            try:
                _wait_for(f"http://127.0.0.1:{port}", self.processes[-1], log)
            except PortTaken:
                port = None
                continue
            if own:
                self.env["CLAIMS_API_PORT"] = str(port)
            return f"http://127.0.0.1:{port}"
        raise RuntimeError("three ports in a row were taken before the API could bind them")

    def wait(self, claim_id: str, ready: Any, what: str, seconds: float = STATE_DEADLINE) -> dict[str, Any]:
        with self.client() as http:
            def read() -> dict[str, Any] | None:
                response = http.get(f"/claims/{claim_id}", headers=self.auth("sup-1", "supervisor"))
                return response.json() if response.status_code == 200 else None  # type: ignore[no-any-return]

            status = polled(read, lambda status: status is not None and ready(status), f"claim {claim_id} {what}",
                            seconds)
        assert status is not None
        return status


def _spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)


class PortTaken(RuntimeError):
    """The API could not bind its port: another process holds it."""


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            said = log.read_text()[-3000:]
            if "address already in use" in said:
                raise PortTaken(f"the API's port is taken:\n{said}")
            raise RuntimeError(f"the API process exited:\n{said}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the API did not answer within {seconds} s:\n{log.read_text()[-3000:]}")


def start_stack(var_dir: Path, sla_profile: str = "demo", *, traces: bool = False, env: dict[str, str] | None = None,
                **sla: Any) -> Stack:
    """The stack; under the `demo` SLA profile (the tests') a day lasts a second. `sla` overrides the SLA table,
    `env` adds settings. With `traces`, every process writes its spans to `traces.jsonl` in the var directory."""
    extra = env or {}
    var_dir.mkdir(parents=True, exist_ok=True)
    rules = var_dir / "rules.json"
    rules.write_text(json.dumps({"sla": {"documents_days": 30, "reminder_days_before": [1], **sla}}))
    env = {**os.environ, "CLAIMS_VAR_DIR": str(var_dir), "DATABASE_URL": f"sqlite:///{var_dir / 'claims.db'}",
           "CLAIMS_SLA_PROFILE": sla_profile, "CLAIMS_RULES_FILE": str(rules), "CLAIMS_TASK_QUEUE": "claims-api",
           "CLAIMS_EMBEDDED_PORT": str(free_port()), "CLAIMS_EMBEDDED_UI_PORT": str(free_port()),
           "CLAIMS_LOG_FORMAT": "json", "CLAIMS_LOG_LEVEL": "WARNING", "CLAIMS_DOCUMENT_MAX_BYTES": str(UPLOAD_LIMIT),
           "CLAIMS_API_PORT": str(free_port()), **extra}
    if traces:
        env.update(CLAIMS_TRACES_FILE=str(var_dir / "traces.jsonl"), OTEL_BSP_SCHEDULE_DELAY="200")
    for name in ("CLAIMS_OIDC_ISSUER", "CLAIMS_OIDC_JWKS_URL", "TEMPORAL_ADDRESS", "CLAIMS_DOCUMENT_STORE"):
        if name not in extra:
            env.pop(name, None)
    settings = Settings(CLAIMS_VAR_DIR=var_dir, CLAIMS_EMBEDDED_PORT=int(env["CLAIMS_EMBEDDED_PORT"]),
                        CLAIMS_EMBEDDED_UI_PORT=int(env["CLAIMS_EMBEDDED_UI_PORT"]),
                        CLAIMS_API_PORT=int(env["CLAIMS_API_PORT"]))
    asyncio.run(ensure_embedded_server(settings))  # started once here; each process finds it as its embedded server
    if "CLAIMS_OIDC_ISSUER" not in extra:  # else the caller serves an issuer, as an organisation would
        env["CLAIMS_DEV_ISSUER"] = "true"
    subprocess.run([sys.executable, "starter.py", "db", "upgrade"], cwd=PROJECT_ROOT, env=env, check=True,
                   capture_output=True)
    policies = var_dir / "policies.json"
    policies.write_text(json.dumps([p.model_dump(mode="json") for p in sample_policies()]))
    subprocess.run([sys.executable, "starter.py", "policies", "load", str(policies)], cwd=PROJECT_ROOT, env=env,
                   check=True, capture_output=True)
    stack = Stack(var_dir=var_dir, env=env, url="")
    try:
        stack.processes.append(_spawn([sys.executable, "worker.py"], env, var_dir / "worker.log"))
        stack.url = stack.start_api(int(env["CLAIMS_API_PORT"]))
    except BaseException:
        stop_stack(stack)  # nothing it started outlives a stack that did not come up
        raise
    return stack


def stop_stack(stack: Stack) -> None:
    for process in stack.processes:
        process.terminate()
    for process in stack.processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    stop_embedded_server(stack.settings)


def running_stack(var_dir: Path, *, traces: bool = False, env: dict[str, str] | None = None,
                  **sla: Any) -> Iterator[Stack]:
    stack = start_stack(var_dir, traces=traces, env=env, **sla)
    try:
        yield stack
    finally:
        stop_stack(stack)
