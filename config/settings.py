"""One settings object for every process, read from the environment (and `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, HttpUrl, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Webhook(BaseModel):
    """A subscriber to claim events over HTTP: each event is POSTed to `url`, signed with `secret`."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    url: HttpUrl
    secret: SecretStr = Field(min_length=16)


class Settings(BaseSettings):
    """Everything a process needs to know about where it runs.

    Unprefixed names (`TEMPORAL_ADDRESS`, `DATABASE_URL`, ...) are the ones operators already
    know from Temporal and twelve-factor apps; product settings carry the `CLAIMS_` prefix.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # Temporal connection. Unset address: an embedded dev server is started under var/.
    temporal_address: str | None = Field(default=None, alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE")
    temporal_tls: bool = Field(default=False, alias="TEMPORAL_TLS")
    temporal_tls_cert: Path | None = Field(default=None, alias="TEMPORAL_TLS_CLIENT_CERT_PATH")
    temporal_tls_key: Path | None = Field(default=None, alias="TEMPORAL_TLS_CLIENT_KEY_PATH")
    temporal_tls_ca: Path | None = Field(default=None, alias="TEMPORAL_TLS_SERVER_CA_CERT_PATH")
    temporal_api_key: str | None = Field(default=None, alias="TEMPORAL_API_KEY")
    # The cluster's HTTP API (https://host:7243, or a Temporal Cloud namespace's endpoint), with the same TLS and
    # API key: `starter.py status` asks over it and starts without the SDK. Unset, it asks through the SDK.
    temporal_http_address: str | None = Field(default=None, alias="TEMPORAL_HTTP_ADDRESS")
    task_queue: str = Field(default="claims", alias="CLAIMS_TASK_QUEUE")
    # The worker's sizing (see docs/operators.md, "Sizing the workers"): open claims kept in memory (a claim beyond
    # the cache is replayed when it next wakes), activities run at once, and worker processes `worker.py` starts.
    worker_cache_size: int = Field(default=1000, ge=0, alias="CLAIMS_WORKER_CACHE_SIZE")
    worker_max_activities: int = Field(default=32, ge=1, alias="CLAIMS_WORKER_MAX_ACTIVITIES")
    worker_processes: int = Field(default=1, ge=1, le=64, alias="CLAIMS_WORKER_PROCESSES")
    # On SIGTERM a worker stops taking tasks and gives the activities under way this long to finish (the SDK's
    # graceful shutdown); a worker process exits within it and a few seconds more, whatever it is waiting on.
    worker_shutdown_seconds: float = Field(default=20.0, gt=0, le=3600, alias="CLAIMS_WORKER_SHUTDOWN_SECONDS")
    # host:port where each worker serves Prometheus metrics at /metrics (Temporal's and the claims'); unset, none.
    # Further worker processes take the next ports.
    metrics_address: str | None = Field(default=None, alias="CLAIMS_METRICS_ADDRESS")
    # OpenTelemetry traces (config/tracing.py): to a collector over OTLP/HTTP (e.g.
    # http://otel-collector:4318/v1/traces), or as JSON lines to a file; neither set, no traces.
    otlp_endpoint: str | None = Field(default=None, alias="CLAIMS_OTLP_ENDPOINT")
    traces_file: Path | None = Field(default=None, alias="CLAIMS_TRACES_FILE")

    # Embedded dev server (used only when TEMPORAL_ADDRESS is unset).
    embedded_port: int = Field(default=7233, alias="CLAIMS_EMBEDDED_PORT")
    embedded_ui_port: int = Field(default=8233, alias="CLAIMS_EMBEDDED_UI_PORT")
    # The embedded server's HTTP API (what `starter.py status` asks over); unset, a free port, kept under var/.
    embedded_http_port: int | None = Field(default=None, alias="CLAIMS_EMBEDDED_HTTP_PORT")

    # Domain database: SQLite under var/ by default, postgresql+psycopg://... in production.
    database_url: str | None = Field(default=None, alias="DATABASE_URL")

    # Where the embedded sender writes letters, and the embedded server keeps its files.
    var_dir: Path = Field(default=PROJECT_ROOT / "var", alias="CLAIMS_VAR_DIR")

    # Rules: the SLA profile and an optional JSON file overriding the default rule tables.
    sla_profile: Literal["statutory", "demo"] = Field(default="statutory", alias="CLAIMS_SLA_PROFILE")
    rules_file: Path | None = Field(default=None, alias="CLAIMS_RULES_FILE")

    # Payments: "ledger" is the embedded gateway; "module:Class" loads a real adapter.
    payment_gateway: str = Field(default="ledger", alias="CLAIMS_PAYMENT_GATEWAY")

    # Notifications: SMTP for e-mail when a host is given; SMS and app messages through the insurer's gateway
    # (`package.module:Class` with letters.senders.Sender's `send`). The outbox folder (sealed files under var/outbox)
    # serves the embedded demo only, with the development issuer on.
    message_gateway: str | None = Field(default=None, alias="CLAIMS_MESSAGE_GATEWAY")
    smtp_host: str | None = Field(default=None, alias="CLAIMS_SMTP_HOST")
    smtp_port: int = Field(default=587, alias="CLAIMS_SMTP_PORT")
    smtp_user: str | None = Field(default=None, alias="CLAIMS_SMTP_USER")
    smtp_password: str | None = Field(default=None, alias="CLAIMS_SMTP_PASSWORD")
    smtp_starttls: bool = Field(default=True, alias="CLAIMS_SMTP_STARTTLS")
    smtp_sender: str = Field(default="claims@insurer.example", alias="CLAIMS_SMTP_SENDER")

    # Reports and digests: the day a daily report covers is a day in this timezone.
    report_timezone: str = Field(default="Asia/Shanghai", alias="CLAIMS_REPORT_TIMEZONE")
    # The service line the claimant pages offer as a tel: link (400-000-0000 in the demo); unset, they name none.
    hotline: str | None = Field(default=None, alias="CLAIMS_HOTLINE", pattern=r"^\+?[0-9][0-9 -]{2,19}$")
    digest_horizon_hours: int = Field(default=24, alias="CLAIMS_DIGEST_HORIZON_HOURS")

    # Identity: the OpenID Connect issuer whose tokens the API trusts. The development issuer (signing key made
    # under var/identity/ on first use, `python starter.py token`) runs only when explicitly enabled, and only on
    # the embedded stack: `make demo` and `make run` set CLAIMS_DEV_ISSUER=true (config/embedded.py).
    dev_issuer: bool = Field(default=False, alias="CLAIMS_DEV_ISSUER")
    oidc_issuer: str | None = Field(default=None, alias="CLAIMS_OIDC_ISSUER")
    oidc_jwks_url: str | None = Field(default=None, alias="CLAIMS_OIDC_JWKS_URL")
    oidc_audience: str = Field(default="claims", alias="CLAIMS_OIDC_AUDIENCE")
    # The longest a token may live from issue to expiry; a longer one is refused, whatever its issuer wrote.
    token_max_hours: float = Field(default=12, gt=0, le=24 * 7, alias="CLAIMS_TOKEN_MAX_HOURS")
    # Action proofs (identity/actions.py): the API signs, for one update of one workflow, the `credential` the
    # workflow checks. The API's signing key (PEM, EC P-256): unset, made under var/identity/ on first use. The
    # workers verify with the public key set: a URL (the API serves it at /.well-known/action-jwks.json), or,
    # unset, the file beside the key (one machine only).
    action_issuer: str = Field(default="urn:claims:api", alias="CLAIMS_ACTION_ISSUER")
    action_key_file: Path | None = Field(default=None, alias="CLAIMS_ACTION_KEY_FILE")
    action_jwks_url: str | None = Field(default=None, alias="CLAIMS_ACTION_JWKS_URL")
    # Where the command line exchanges a person's token for an action proof (the API's /token).
    api_url: str | None = Field(default=None, alias="CLAIMS_API_URL")
    # The workbench's sign-in: a confidential client of the issuer (authorization code with PKCE). Unset with a
    # real issuer: staff paste a token instead. The callback is <CLAIMS_PUBLIC_URL>/sign-in/callback by default.
    oidc_client_id: str | None = Field(default=None, alias="CLAIMS_OIDC_CLIENT_ID")
    oidc_client_secret: str | None = Field(default=None, alias="CLAIMS_OIDC_CLIENT_SECRET", repr=False)
    oidc_redirect_url: str | None = Field(default=None, alias="CLAIMS_OIDC_REDIRECT_URL")
    # One-time codes sent to claimants are derived from this secret: set the same value on every worker and
    # API process. Unset: a random one made under var/identity/ on first use (one machine only).
    code_secret: str | None = Field(default=None, alias="CLAIMS_CODE_SECRET", repr=False)
    # The claimant pages (/c/...) act as the self-service channel. With a real issuer the API gets that
    # channel's token by the OAuth 2.0 client-credentials grant from this token endpoint; with the development
    # issuer it mints one.
    portal_client_id: str | None = Field(default=None, alias="CLAIMS_PORTAL_CLIENT_ID")
    portal_client_secret: str | None = Field(default=None, alias="CLAIMS_PORTAL_CLIENT_SECRET", repr=False)
    portal_token_url: str | None = Field(default=None, alias="CLAIMS_PORTAL_TOKEN_URL")

    # Payload encryption (config/encryption.py): `id=base64,...` keys (the first writes unless the write key is
    # named), or a JSON key file. Neither: a development key made under var/keys/ on first use.
    encryption_keys: str | None = Field(default=None, alias="CLAIMS_ENCRYPTION_KEYS", repr=False)
    encryption_write_key: str | None = Field(default=None, alias="CLAIMS_ENCRYPTION_WRITE_KEY")
    encryption_key_file: Path | None = Field(default=None, alias="CLAIMS_ENCRYPTION_KEY_FILE")

    # The claim event log's seal key (base64, 32 bytes), which the database never holds; unset: a random one made
    # under var/keys/ on first use. Checkpoints of every chain's head go to the audit folder.
    audit_seal_key: str | None = Field(default=None, alias="CLAIMS_AUDIT_SEAL_KEY", repr=False)
    # Seal keys rotated out (base64, comma-separated): rows and checkpoints they sealed still verify. Each key's id
    # (its fingerprint) is written beside every seal.
    audit_seal_old_keys: str | None = Field(default=None, alias="CLAIMS_AUDIT_SEAL_OLD_KEYS", repr=False)
    audit_dir: Path | None = Field(default=None, alias="CLAIMS_AUDIT_DIR")

    # HTTP API (`python -m api`, started by `make run`).
    api_host: str = Field(default="127.0.0.1", alias="CLAIMS_API_HOST")
    api_port: int = Field(default=8000, alias="CLAIMS_API_PORT")
    # Where claimants reach the API's pages from outside (SMS links to /c/<claim id>); unset: this API's own
    # address, right for the embedded demo only.
    public_url: str | None = Field(default=None, alias="CLAIMS_PUBLIC_URL")
    # Browser origins that may call the codec server (/codec): the Temporal web UI's address (a JSON list;
    # by default the embedded UI's two addresses).
    codec_cors_origins_setting: list[str] | None = Field(default=None, alias="CLAIMS_CODEC_CORS_ORIGINS")
    # Who may read decrypted histories through the codec server: staff of these roles (a JSON list).
    codec_roles: list[str] = Field(default=["auditor", "supervisor", "manager"], alias="CLAIMS_CODEC_ROLES")
    # The staff session cookie (`/sign-in`) is sent only from the API's own site ("strict"); "none" lets a UI on
    # another site (Temporal Cloud's) send it, over HTTPS only.
    session_same_site: Literal["strict", "lax", "none"] = Field(default="strict", alias="CLAIMS_SESSION_SAMESITE")

    # Claim events (events/): CloudEvents to these webhooks, a JSON list of {"name", "url", "secret"}, and to a
    # broker when its URL is set (amqp://... RabbitMQ, a topic exchange; nats://... NATS JetStream, a stream),
    # both from the outbox by the relay (`python -m events`). A failing subscriber is retried after 1 s, doubling
    # up to the ceiling, for so many attempts; then the event goes to the dead letters (`starter.py events`).
    event_webhooks: list[Webhook] = Field(default_factory=list, alias="CLAIMS_EVENT_WEBHOOKS")
    event_broker_url: str | None = Field(default=None, alias="CLAIMS_EVENT_BROKER_URL", repr=False)
    event_broker_topic: str = Field(default="claims.events", pattern=r"^[A-Za-z0-9_.-]+$",
                                    alias="CLAIMS_EVENT_BROKER_TOPIC")
    event_source: str = Field(default="urn:claims-orchestrator", min_length=1, alias="CLAIMS_EVENT_SOURCE")
    event_max_attempts: int = Field(default=15, ge=1, alias="CLAIMS_EVENT_MAX_ATTEMPTS")
    event_retry_seconds: float = Field(default=1.0, gt=0, alias="CLAIMS_EVENT_RETRY_SECONDS")
    event_retry_max_seconds: float = Field(default=3600.0, gt=0, alias="CLAIMS_EVENT_RETRY_MAX_SECONDS")
    event_poll_seconds: float = Field(default=1.0, gt=0, alias="CLAIMS_EVENT_POLL_SECONDS")
    # Outbox events every subscriber has taken are deleted after so many days (the claim event log keeps all).
    event_retention_days: int = Field(default=7, ge=1, alias="CLAIMS_EVENT_RETENTION_DAYS")

    # Reading documents (ocr/): uploaded invoices, reports and ID cards are read on this task queue by OCR workers
    # (`python -m ocr`); the claims worker serves it too unless CLAIMS_OCR_IN_WORKER is false (then run OCR workers
    # apart, as many as the pages need). CLAIMS_READ_DOCUMENTS=false: documents are not read.
    read_documents: bool = Field(default=True, alias="CLAIMS_READ_DOCUMENTS")
    ocr_task_queue: str = Field(default="claims-ocr", min_length=1, alias="CLAIMS_OCR_TASK_QUEUE")
    ocr_in_worker: bool = Field(default=True, alias="CLAIMS_OCR_IN_WORKER")

    # Logging: "auto" renders readable lines on a terminal and JSON elsewhere.
    log_format: Literal["auto", "json", "console"] = Field(default="auto", alias="CLAIMS_LOG_FORMAT")
    log_level: str = Field(default="INFO", alias="CLAIMS_LOG_LEVEL")

    # Claim documents: a folder under var/ by default; "s3" is any S3-compatible store, with credentials from
    # the standard AWS chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, or an instance role).
    document_store: Literal["folder", "s3"] = Field(default="folder", alias="CLAIMS_DOCUMENT_STORE")
    document_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0, alias="CLAIMS_DOCUMENT_MAX_BYTES")
    s3_bucket: str | None = Field(default=None, alias="CLAIMS_S3_BUCKET")
    s3_endpoint_url: str | None = Field(default=None, alias="CLAIMS_S3_ENDPOINT_URL")
    s3_region: str = Field(default="us-east-1", alias="CLAIMS_S3_REGION")
    s3_prefix: str = Field(default="documents/", alias="CLAIMS_S3_PREFIX")
    # The audit archive (event-log checkpoints, closed claims' histories) in the same bucket, under this prefix.
    s3_archive_prefix: str = Field(default="audit/", alias="CLAIMS_S3_ARCHIVE_PREFIX")
    # Years to keep a closed claim's exported history; unset, the Insurance Law art. 87 minimum (5 years after
    # the contract ends for terms of a year or less, 10 for longer ones). A value below the law's is not used.
    retention_years: int | None = Field(default=None, ge=1, le=100, alias="CLAIMS_RETENTION_YEARS")

    @property
    def codec_cors_origins(self) -> list[str]:
        if self.codec_cors_origins_setting is not None:
            return self.codec_cors_origins_setting
        return [f"http://{host}:{self.embedded_ui_port}" for host in ("127.0.0.1", "localhost")]

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'claims.db'}"

    @property
    def progress_base_url(self) -> str:
        """The claimants' progress pages are at `<this>/c/<claim id>`."""
        return (self.public_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")

    @property
    def uses_development_issuer(self) -> bool:
        """The development issuer is on: enabled explicitly, and no real issuer configured."""
        return self.dev_issuer and not self.oidc_issuer

    @property
    def audit_root(self) -> Path:
        """The audit archive's folder (checkpoints, exported histories) when documents stay in a folder."""
        return self.audit_dir or self.var_dir / "audit"

    @property
    def outbox_dir(self) -> Path:
        return self.var_dir / "outbox"

    @property
    def reports_dir(self) -> Path:
        return self.var_dir / "reports"

    @property
    def documents_dir(self) -> Path:
        return self.var_dir / "documents"


@lru_cache
def get_settings() -> Settings:
    return Settings()
