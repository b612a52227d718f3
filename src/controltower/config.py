"""Settings: one object, read from a YAML file and ``CONTROLTOWER_`` variables.

The file comes from ``--config FILE`` or ``CONTROLTOWER_CONFIG``; environment
variables win over it and nest with ``__`` (``CONTROLTOWER_GITHUB__TOKEN``).
Settings are built by ``load_settings`` at start-up, never at import time, and
validated there with messages a person can act on.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    YamlConfigSettingsSource,
)

from controltower.domain import WAIT_BETWEEN_JOBS_S
from controltower.errors import ConfigurationError

CONFIG_ENV = "CONTROLTOWER_CONFIG"
# The file given to load_settings, seen by the settings sources while it builds Settings.
_config_file: ContextVar[str | None] = ContextVar("controltower_config_file", default=None)
MiB = 1024 * 1024


class Section(BaseModel):
    """A section of the settings: a field it does not have (a typo) is refused, naming it,
    instead of being ignored while its default silently applies."""

    model_config = ConfigDict(extra="forbid")


class GitHubSettings(Section):
    """How GitHub reaches us (webhooks) and how we reach GitHub (REST).

    Authenticate with a personal access token (``token``) or as a GitHub App
    (``app_id`` and ``private_key_path``; ``installation_id``, or it is looked
    up for the repository or organization asked about). ``api_url`` is
    ``https://HOST/api/v3`` for GitHub Enterprise Server.
    """

    webhook_secret: SecretStr | None = None
    token: SecretStr | None = None
    app_id: int | None = None
    private_key_path: Path | None = None
    installation_id: int | None = None
    api_url: str = "https://api.github.com"
    concurrency: int = Field(default=4, ge=1, le=32)
    per_page: int = Field(default=100, ge=1, le=100)
    # GitHub's run listing returns at most this many results per query, whatever total_count says.
    listing_cap: int = Field(default=1000, ge=1)
    timeout_s: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=6, ge=0)
    backoff_base_s: float = Field(default=1.0, ge=0)
    backoff_max_s: float = Field(default=60.0, ge=0)
    # How long to wait on a 403/429 rate limit that names no time (GitHub: at least a minute).
    rate_limit_wait_s: float = Field(default=60.0, ge=0)
    # Longest single wait for a rate limit to reset; beyond it the call fails.
    max_rate_limit_wait_s: float = Field(default=3900.0, ge=0)
    # Pause until the reset when fewer requests than this remain, keeping some for others.
    rate_limit_reserve: int = Field(default=50, ge=0)
    # Repositories reconciled besides those webhooks have delivered (OWNER/NAME).
    repositories: list[str] = []

    @field_validator("api_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL, e.g. https://github.example.com/api/v3")
        return value.rstrip("/")

    @field_validator("repositories")
    @classmethod
    def _owner_slash_name(cls, value: list[str]) -> list[str]:
        for name in value:
            if name.count("/") != 1 or name.startswith("/") or name.endswith("/"):
                raise ValueError(f"{name!r} is not OWNER/NAME")
        return value

    @property
    def authenticated(self) -> bool:
        """Whether credentials for the REST API are configured."""
        return self.token is not None or self.app_id is not None


class ReconcileSettings(Section):
    """Comparing what webhooks delivered with what GitHub's API lists, on a schedule.

    Runs only where GitHub credentials are configured. Runs created in the last
    ``grace_minutes`` are left for their webhooks, which may still be on the way.
    """

    enabled: bool = True
    interval_minutes: int = Field(default=15, ge=1, le=1440)
    window_hours: float = Field(default=24.0, gt=0)
    grace_minutes: float = Field(default=5.0, ge=0)
    completeness_threshold: float = Field(default=0.99, ge=0, le=1)


class JobLogSettings(Section):
    """Logs of failed jobs: fetched after reconciliation, gzip-compressed, the end kept."""

    enabled: bool = True
    conclusions: list[str] = ["failure", "timed_out"]
    # Uncompressed bytes kept per log: the end of a longer log, where the error usually is.
    max_bytes: int = Field(default=2 * MiB, gt=0)
    # Logs fetched per pass at most; the rest wait for the next pass.
    batch: int = Field(default=200, gt=0)


class RetentionSettings(Section):
    """How long each kind of data is kept (days; None keeps it forever), and archiving.

    Expired rows are written to Parquet under ``archive_dir`` (default
    ``DATA_DIR/archive``) before they are deleted, unless ``archive`` is off.
    Deliveries still pending normalization are never deleted. The schedule runs
    once a day at ``hour`` (UTC).
    """

    enabled: bool = True
    deliveries_days: int | None = Field(default=30, ge=1)
    logs_days: int | None = Field(default=90, ge=1)
    runs_days: int | None = Field(default=None, ge=1)
    metrics_days: int | None = Field(default=365, ge=1)
    archive: bool = True
    archive_dir: Path | None = None
    hour: int = Field(default=3, ge=0, le=23)


Severity = Literal["info", "warning", "critical"]


class AnomalySettings(Section):
    """Detection over the store: run every ``interval_minutes`` and record what it finds.

    ``min_relative`` is the smallest change (a share of normal) a shift or
    drift must have to be reported; ``spike_relative`` the same for spikes.
    A change of a duration or queue time under ``min_change_seconds``, and of a
    cost under ``min_change_usd_month`` dollars a month (a day's or a week's
    share of it), is not reported either, whatever its share of normal.
    A spike (one run, or one day's or week's total) is at most
    ``spike_max_severity``: by default a warning, never a page.
    A cost anomaly is at most ``info`` below ``cost_warning_usd`` and at most
    ``warning`` below ``cost_critical_usd``, in USD a month for a lasting
    change and USD extra for a spike, whatever its size against normal. A
    change of a duration or queue time is likewise at most ``info`` below
    ``time_warning_seconds`` and at most ``warning`` below
    ``time_critical_seconds``. A successful run's duration is judged less the
    stretches longer than ``wait_between_jobs_minutes`` in which none of its jobs
    ran (waiting for a deployment's reviewers, say).
    """

    enabled: bool = True
    interval_minutes: int = Field(default=15, ge=1, le=60)
    min_relative: float = Field(default=0.25, ge=0)
    spike_relative: float = Field(default=1.0, ge=0)
    min_change_seconds: float = Field(default=10.0, ge=0)
    min_change_usd_month: float = Field(default=0.0, ge=0)
    spike_max_severity: Severity = "warning"
    cost_warning_usd: float = Field(default=50.0, ge=0)
    cost_critical_usd: float = Field(default=500.0, ge=0)
    time_warning_seconds: float = Field(default=30.0, ge=0)
    time_critical_seconds: float = Field(default=300.0, ge=0)
    wait_between_jobs_minutes: float = Field(default=WAIT_BETWEEN_JOBS_S / 60, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> AnomalySettings:
        if self.cost_critical_usd < self.cost_warning_usd:
            raise ValueError("cost_critical_usd must be at least cost_warning_usd")
        if self.time_critical_seconds < self.time_warning_seconds:
            raise ValueError("time_critical_seconds must be at least time_warning_seconds")
        return self


class IngestSettings(Section):
    """Limits and batching of the webhook endpoint and the normalizer."""

    max_body_bytes: int = Field(default=25 * MiB, gt=0)
    commit_batch_max: int = Field(default=256, gt=0)
    normalize_batch_max: int = Field(default=50, gt=0)
    sweep_interval_s: float = Field(default=60.0, gt=0)


class RatePeriodSettings(Section):
    """Per-minute USD rates by runner type, in force from ``effective`` until the next period."""

    effective: date
    per_minute: dict[str, float]


# GitHub-hosted standard runners; self-hosted minutes are free. Each job is billed
# in whole minutes. Override with telemetry.rates in the settings file.
DEFAULT_RATES = [
    RatePeriodSettings(
        effective=date(2000, 1, 1),
        per_minute={
            "linux": 0.008,
            "linux_1core": 0.002,
            "windows": 0.016,
            "macos": 0.080,
            "self_hosted": 0.0,
        },
    ),
    RatePeriodSettings(
        effective=date(2026, 1, 1),
        per_minute={
            "linux": 0.006,
            "linux_1core": 0.002,
            "windows": 0.010,
            "macos": 0.062,
            "self_hosted": 0.0,
        },
    ),
]


class DoraSettings(Section):
    """What counts as a deployment for the DORA keys (docs/telemetry.md)."""

    production_environments: list[str] = ["production", "prod", "live"]
    deployment_workflows: list[str] = ["*deploy*", "*release*", "*publish*"]
    deployment_branches: list[str] = ["main", "master"]


class ProblemSettings(Section):
    """When the installation's own state is reported as a problem on the overview."""

    backlog_warning: int = Field(default=1000, gt=0)
    backlog_critical: int = Field(default=10000, gt=0)
    quiet_after_hours: float = Field(default=24.0, gt=0)


class TelemetrySettings(Section):
    """How telemetry is computed: the dated rate table for cost, and deployments for DORA."""

    dora: DoraSettings = DoraSettings()
    problems: ProblemSettings = ProblemSettings()
    default_branches: list[str] = ["main", "master"]
    view_ttl_s: float = Field(default=60.0, ge=0)

    rates: list[RatePeriodSettings] = Field(
        default_factory=lambda: list(DEFAULT_RATES), min_length=1
    )


class IntelligenceSettings(Section):
    """Prediction: how it is rolled out, and when the models are retrained.

    ``mode``: ``off`` (nothing predicted), ``shadow`` (predicted, stored and
    scored, never shown), ``canary`` (shown for the repositories in
    ``canary_repositories`` and for a deterministic ``canary_share`` of runs,
    chosen by run id; shadow for the rest) or ``on`` (shown everywhere).
    ``CONTROLTOWER_ML_ENABLED=false`` stops all of it whatever the mode. The
    models are retrained once a day at ``train_hour`` (UTC) when
    ``train_daily`` is on. Live accuracy is scored over the predicted runs
    completed in the last ``accuracy_days`` days; when the model's F1 (failure)
    or share within ±20% (duration) falls below the best baseline's by more
    than ``demote_margin`` over at least ``accuracy_min_runs`` scored runs, the
    live version serves that figure by the baseline, and a problem is reported.
    """

    mode: Literal["off", "shadow", "canary", "on"] = "shadow"
    canary_share: float = Field(default=0.1, ge=0, le=1)
    canary_repositories: list[str] = []
    train_daily: bool = True
    train_hour: int = Field(default=4, ge=0, le=23)
    demote_margin: float = Field(default=0.05, ge=0, le=1)
    accuracy_days: int = Field(default=14, ge=1)
    accuracy_min_runs: int = Field(default=50, ge=1)


# Channels a route may name even when ``alerts.channels`` leaves them out (they send nothing).
BUILT_IN_CHANNELS = ("pagerduty", "slack")
# Where each severity goes unless ``alerts.routes`` names it: info to the dashboard only.
DEFAULT_ROUTES: dict[Severity, list[str]] = {
    "critical": ["pagerduty", "slack"],
    "warning": ["slack"],
    "info": [],
}
# SCHEME://REST, as apprise and the native channels read a URL.
_CHANNEL_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")


def _native_url_problem(url: str) -> str | None:
    """What is wrong with a URL of a scheme controltower sends itself (PagerDuty Events v2,
    Slack's incoming webhook), which would otherwise fail only when an alert fires, or go to the
    wrong place (an unknown region is not the US one); None where nothing is. The URL itself is
    never in the answer: it holds the channel's secret."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("pagerduty-events", "slack-webhook"):
        return None
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    problems = []
    if scheme == "pagerduty-events" and not parts.netloc:
        problems.append("needs the integration's routing key: pagerduty-events://KEY")
    region = query.get("region", "us").lower()
    if scheme == "pagerduty-events" and region not in ("us", "eu"):
        problems.append(f"region must be us or eu, not {region!r}")
    if scheme == "slack-webhook" and (not parts.netloc or parts.path.strip("/").count("/") < 1):
        problems.append("needs the webhook's path: slack-webhook://T…/B…/X…")
    if "timeout" in query and not 0.0 < _seconds(query["timeout"]) < float("inf"):
        problems.append("timeout must be a number of seconds above 0")
    if query.get("endpoint") and urlsplit(query["endpoint"]).scheme not in ("http", "https"):
        problems.append("endpoint must be an http:// or https:// URL")
    return f"{scheme}:// {problems[0]}" if problems else None


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


MetricName = Literal["failure_rate", "duration_p50", "duration_p95", "queue_p95", "cost_per_day"]


class AlertRule(Section):
    """Which active problems become alerts, or (with ``metric``) a threshold on a metric.

    Without ``metric``: problem kinds (glob patterns) at a least severity.
    Problem kinds: ``failing-branch``, ``ingest-backlog``, ``ingest-failed``,
    ``ingest-quiet``, ``data-completeness``, ``model-accuracy`` and
    ``anomaly``. ``severity``, when set, replaces the problem's own.

    With ``metric`` (``failure_rate`` as a share from 0 to 1,
    ``duration_p50``/``duration_p95`` of successful runs and ``queue_p95`` in
    seconds, ``cost_per_day`` in USD): each workflow whose repository and name
    match the ``repository`` and ``workflow`` globs and that had at least
    ``min_runs`` runs in the last ``window_hours`` is a problem of kind
    ``metric`` while its figure is ``above`` or ``below`` the threshold, at
    ``severity`` (default warning). ``kinds`` and ``min_severity`` do not apply.
    A field it does not know is refused, not ignored.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    kinds: list[str] = ["*"]
    min_severity: Severity = "info"
    severity: Severity | None = None
    metric: MetricName | None = None
    repository: str = "*"
    workflow: str = "*"
    window_hours: float = Field(default=24.0, gt=0, le=24 * 90)
    above: float | None = None
    below: float | None = None
    min_runs: int = Field(default=5, ge=1)

    @model_validator(mode="after")
    def _thresholds_fit_the_metric(self) -> AlertRule:
        if self.metric is None:
            if self.above is not None or self.below is not None:
                raise ValueError(f"rule {self.name!r}: above and below need a metric")
            return self
        if self.above is None and self.below is None:
            raise ValueError(f"rule {self.name!r}: a metric rule needs above or below")
        shares = [v for v in (self.above, self.below) if v is not None]
        if self.metric == "failure_rate" and any(not 0 <= v <= 1 for v in shares):
            raise ValueError(
                f"rule {self.name!r}: failure_rate thresholds are shares from 0 to 1 (0.2 for 20 %)"
            )
        if any(v < 0 for v in shares):
            raise ValueError(f"rule {self.name!r}: thresholds cannot be negative")
        return self


class DeliveryHealthSettings(Section):
    """When health calls the delivery of notifications to a channel degraded.

    One failed attempt whose retry is on schedule is shown, not degraded. A
    channel URL degrades the ``notifications`` check when its latest message was
    given up, when a message still owed to it was due to be tried more than
    ``overdue_after_s`` ago (no process is sending it), when one was kept more
    than ``max_age_minutes`` ago and is still not delivered, or when the
    messages still owed to it have failed ``failed_attempts`` attempts or more
    since its last delivery (1 degrades on any failure).
    """

    failed_attempts: int = Field(default=2, ge=1)
    overdue_after_s: float = Field(default=120.0, gt=0)
    max_age_minutes: float = Field(default=10.0, gt=0)


class AlertSettings(Section):
    """Alerting: rules over active problems, and where each severity is sent.

    ``channels`` name lists of apprise URLs (``slack://…``, ``pagerduty://…``,
    ``json://…`` for a generic webhook, ``mailto://…``); ``routes`` send each
    severity to channels: a severity ``routes`` names goes where it says, one it
    leaves out keeps its default (critical to ``pagerduty`` and ``slack``,
    warning to ``slack``, info nowhere). A channel without URLs sends nothing, so by default
    nothing leaves until ``channels.slack`` or ``channels.pagerduty`` is set;
    info goes to the dashboard only. Alerts are evaluated every
    ``interval_minutes``; a notification that fails is retried up to
    ``retries`` times, waiting ``backoff_base_s`` doubled each time, at most
    ``backoff_max_s``, in the background (or after a receiver's ``Retry-After``).
    Each channel URL has ``workers`` threads of its own, so a receiver that
    hangs delays no other. When health calls delivery degraded is
    ``delivery_health``.

    Besides every ``interval_minutes``, the rules are evaluated soon after the
    worker has written completed runs: ``settle_s`` after the first of them (so
    a burst makes one evaluation), at most one evaluation every
    ``min_interval_s``. Notifications of one evaluation that share a group
    (``group_by``: ``repository``, ``kind``, ``severity`` or ``none``) go to
    each channel as one message; PagerDuty keeps one event per alert.
    ``pagerduty-events://ROUTING_KEY`` and ``slack-webhook://T/B/X`` URLs are
    sent natively (``integrations.channels``), other URLs through apprise.

    Refused at start-up: a field it does not know, a channel URL without a
    scheme (``SCHEME://…``), and a route to a channel ``channels`` does not
    define (``pagerduty`` and ``slack`` always exist, empty unless given).
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    rules: list[AlertRule] = [AlertRule(name="all problems")]
    channels: dict[str, list[str]] = {"pagerduty": [], "slack": []}
    routes: dict[Severity, list[str]] = dict(DEFAULT_ROUTES)
    interval_minutes: int = Field(default=1, ge=1, le=60)
    retries: int = Field(default=5, ge=0)
    backoff_base_s: float = Field(default=2.0, ge=0)
    backoff_max_s: float = Field(default=300.0, ge=0)
    workers: int = Field(default=4, ge=1, le=32)
    group_by: Literal["repository", "kind", "severity", "none"] = "repository"
    settle_s: float = Field(default=0.2, ge=0, le=60)
    min_interval_s: float = Field(default=1.0, ge=0, le=3600)
    delivery_health: DeliveryHealthSettings = DeliveryHealthSettings()

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, value: list[AlertRule]) -> list[AlertRule]:
        names = [rule.name for rule in value]
        if repeated := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"rule names must be unique: {', '.join(repeated)} repeated")
        return value

    @field_validator("routes", mode="before")
    @classmethod
    def _routes_over_the_defaults(cls, value: object) -> object:
        # A severity the routes given leave out keeps its default route.
        if isinstance(value, dict):
            return {**DEFAULT_ROUTES, **value}
        return value

    @field_validator("channels")
    @classmethod
    def _urls_have_a_scheme(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for channel, urls in value.items():
            for i, url in enumerate(urls):
                # The URL is never repeated in the message: it holds the channel's secret.
                if not _CHANNEL_URL.match(url):
                    raise ValueError(
                        f"{channel}[{i}] is not a channel URL: give SCHEME://…, e.g. "
                        "slack-webhook://T…/B…/X…, pagerduty-events://ROUTING_KEY or json://HOST/PATH"
                    )
                if problem := _native_url_problem(url):
                    raise ValueError(f"{channel}[{i}]: {problem}")
        return value

    @model_validator(mode="after")
    def _routes_name_channels(self) -> AlertSettings:
        known = {*BUILT_IN_CHANNELS, *self.channels}
        for severity, names in self.routes.items():
            if unknown := [name for name in names if name not in known]:
                raise ValueError(
                    f"routes.{severity}: no channel {', '.join(map(repr, unknown))} "
                    f"(channels: {', '.join(sorted(known))})"
                )
        return self

    def urls(self, severity: str) -> list[str]:
        """The apprise URLs a notification of ``severity`` goes to."""
        channels = self.routes.get(severity, [])  # type: ignore[call-overload]
        return [url for channel in channels for url in self.channels.get(channel, [])]


class ServerSettings(Section):
    """Where ``serve`` listens, and what a write through the HTTP API must carry.

    With ``api_token`` set, every write of the API (acknowledgements,
    silences, capability switches) needs ``Authorization: Bearer <token>``;
    reads, hypothetical predictions and the webhook (signed on its own) do
    not. Unset, writes are open to whoever reaches the port: set it whenever
    ``host`` is not a loopback address.

    ``public_url`` is where people reach the dashboard (``https://ct.example.com``,
    or with a path prefix); when set, alert notifications link to their alert on
    the ``/alerts`` page. Unset, they carry the alert's id only.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    api_token: SecretStr | None = None
    public_url: str | None = None

    @field_validator("public_url")
    @classmethod
    def _public_url_is_http(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not re.match(r"^https?://[^/\s]+(/\S*)?$", value):
            raise ValueError(
                "public_url must be an http:// or https:// URL, e.g. https://ct.example.com"
            )
        return value

    @field_validator("api_token")
    @classmethod
    def _token_not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("api_token must not be blank; leave it unset for no token")
        return value


class Settings(BaseSettings):
    """The root of controltower's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="CONTROLTOWER_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    data_dir: Path = Path(".controltower")
    database_url: str | None = None
    queue_url: str | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json"] = "console"

    enabled: bool = True
    ml_enabled: bool = True
    autonomous_enabled: bool = True

    github: GitHubSettings = GitHubSettings()
    reconcile: ReconcileSettings = ReconcileSettings()
    job_logs: JobLogSettings = JobLogSettings()
    retention: RetentionSettings = RetentionSettings()
    anomaly: AnomalySettings = AnomalySettings()
    ingest: IngestSettings = IngestSettings()
    server: ServerSettings = ServerSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    intelligence: IntelligenceSettings = IntelligenceSettings()
    alerts: AlertSettings = AlertSettings()

    @field_validator("database_url", "queue_url")
    @classmethod
    def _blank_is_default(cls, value: str | None) -> str | None:
        return value or None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file.get() or os.environ.get(CONFIG_ENV)
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'controltower.db').resolve()}"

    @property
    def resolved_archive_dir(self) -> Path:
        """Where retention archives expired data: ``retention.archive_dir`` or DATA_DIR/archive."""
        return self.retention.archive_dir or self.data_dir / "archive"

    @property
    def resolved_queue_url(self) -> str:
        """The task queue URL, defaulting to a SQLite file in the data directory."""
        if self.queue_url:
            return self.queue_url
        return f"sqlite:///{(self.data_dir / 'queue.db').resolve()}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build and validate the settings; raise ``ConfigurationError`` with a readable message."""
    if config_file is not None and not config_file.is_file():
        raise ConfigurationError(f"configuration file {config_file} does not exist")
    if config_file is None and (named := os.environ.get(CONFIG_ENV)) and not Path(named).is_file():
        raise ConfigurationError(f"{CONFIG_ENV}={named} names no file")
    named_file = config_file or (Path(named) if (named := os.environ.get(CONFIG_ENV)) else None)
    if named_file is not None:
        _check_mapping(named_file)
    token = _config_file.set(str(config_file) if config_file is not None else None)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigurationError(f"invalid settings: {problems}") from exc
    except SettingsError as exc:  # an environment variable that is not the JSON it must be
        cause = f": {exc.__cause__}" if exc.__cause__ else ""
        raise ConfigurationError(f"{exc}{cause}") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"configuration file is not valid YAML: {exc}") from exc
    finally:
        _config_file.reset(token)


def _check_mapping(path: Path) -> None:
    """``ConfigurationError`` unless the YAML file holds settings by name (or nothing)."""
    try:
        with path.open(encoding="utf-8") as stream:  # the parser names the file where it errs
            document = yaml.safe_load(stream)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"configuration file is not valid YAML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"configuration file {path} cannot be read: {exc}") from exc
    if document is not None and not isinstance(document, dict):
        kind = "a list" if isinstance(document, list) else type(document).__name__
        raise ConfigurationError(
            f"configuration file {path} must hold settings by name (a mapping), not {kind}"
        )
