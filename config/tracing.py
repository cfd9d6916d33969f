"""OpenTelemetry traces, from an API call through the workflow to each activity.

Off unless configured: `CLAIMS_OTLP_ENDPOINT` sends spans to a collector over OTLP/HTTP (the production
setting), `CLAIMS_TRACES_FILE` writes them as JSON lines to a file (`make run`, where no collector runs).
Temporal's `TracingInterceptor`, on the client, carries the trace in the headers of every workflow start,
update, query and activity, so one trace shows the request, the workflow's steps and the activities they ran;
workers built from that client trace their side too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter
    from temporalio.client import Interceptor

# OpenTelemetry is imported only when tracing is on, so a command that does not trace starts without it.

_configured = False


def tracing_enabled(settings: Settings) -> bool:
    return bool(settings.otlp_endpoint or settings.traces_file)


def configure_tracing(settings: Settings, service: str) -> None:
    """Install the process's tracer provider once, exporting where the settings say; nothing when tracing is
    off (the API's spans and the interceptor then cost next to nothing)."""
    global _configured  # noqa: PLW0603 (one tracer provider per process, as OpenTelemetry wants)
    if _configured or not tracing_enabled(settings):
        return
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service,
                                                        "service.namespace": "claims-orchestrator"}))
    exporter: SpanExporter
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint)
    else:
        from config.span_file import JsonLinesExporter

        assert settings.traces_file is not None
        exporter = JsonLinesExporter(settings.traces_file)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _configured = True


def interceptors(settings: Settings) -> list[Interceptor]:
    """The client's interceptors: Temporal's tracing interceptor when tracing is on."""
    if not tracing_enabled(settings):
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


def shutdown_tracing() -> None:
    """Send the spans still buffered before the process ends."""
    if not _configured:
        return
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()
