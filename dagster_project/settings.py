"""Every path and tunable of a LeadOps installation, read from the environment here and nowhere else.

`Settings.from_env()` validates every variable once, at start-up: a bad value raises `SettingsError` naming
the variable and what it accepts, before any event is read. Stages never read the environment; the
definitions hand them these values as resource configuration.

dbt runs from its own folder, so a relative warehouse path would point dbt and Dagster at two different
files: every path here is made absolute, and `export_environment` hands the same values to dbt.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from common.warehouse_files import reader_copy_of
from integrations.enrichment.port import HTTP_VENDOR, KNOWN_PROVIDERS, REFERENCE_FILE

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DEFAULT_POLICY_DIR = "policies/default"
# The local intent classifier is trained from the labelled data in the repository, not from a data home:
# one cache per checkout, keyed by the data's hash, shared by every home and test.
INTENT_MODEL_CACHE_DIR = REPO_ROOT / ".cache" / "intent_model"

# Telemetry off everywhere, before any of these libraries is imported by a caller.
_TELEMETRY_OFF = {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "DAGSTER_DISABLE_TELEMETRY": "true",
}
for _name, _value in _TELEMETRY_OFF.items():
    os.environ.setdefault(_name, _value)


class SettingsError(ValueError):
    """A setting the operator gave is invalid; the message names the variable and the allowed values."""


_Number = TypeVar("_Number", int, float)


class _Reader:
    """Reads one environment mapping; every accessor names the variable in its error."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def text(self, name: str, default: str | None = None) -> str | None:
        raw = self.environ.get(name, "").strip()
        return raw or default

    def number(
        self,
        name: str,
        default: _Number,
        kind: Callable[[str], _Number],
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> _Number:
        raw = self.environ.get(name, "").strip()
        allowed = _range_text(kind, minimum, maximum)
        if not raw:
            return default
        try:
            value = kind(raw)
        except ValueError:
            raise SettingsError(f"{name} must be {allowed}, got {raw!r}") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise SettingsError(f"{name} must be {allowed}, got {raw!r}")
        return value

    def choices(self, name: str, default: tuple[str, ...], allowed: tuple[str, ...]) -> tuple[str, ...]:
        raw = self.environ.get(name, "").strip()
        if not raw:
            return default
        values = tuple(part.strip() for part in raw.split(",") if part.strip())
        unknown = [value for value in values if value not in allowed]
        if unknown or not values:
            raise SettingsError(f"{name} must be a comma-separated list of {', '.join(allowed)}, got {raw!r}")
        return values


def _range_text(kind: Callable, minimum: float | None, maximum: float | None) -> str:
    noun = "a whole number" if kind is int else "a number"
    if minimum is not None and maximum is not None:
        return f"{noun} from {minimum:g} to {maximum:g}"
    if minimum is not None:
        return f"{noun} of at least {minimum:g}"
    return noun


@dataclass(frozen=True)
class IdentitySettings:
    """Match thresholds and guard-rail limits as the operator set them; None leaves the identity resource's
    own default in force, so each default is written once, on the resource."""

    auto_link: float | None = None
    review: float | None = None
    max_candidate_pairs: int | None = None
    max_cluster_size: int | None = None
    max_auto_link_share: float | None = None

    def overrides(self) -> dict[str, float | int]:
        return {name: value for name, value in vars(self).items() if value is not None}


@dataclass(frozen=True)
class EnrichmentSettings:
    """Firmographic enrichment as the operator set it. A tunable left unset is None and the enrichment
    resource's own default applies, so each default is written once, on the resource."""

    firmographics_path: Path
    cache_path: Path
    providers: tuple[str, ...] = (REFERENCE_FILE,)
    http_base_url: str | None = None
    confidence_threshold: float | None = None
    deadline_minutes: float | None = None
    retry_base_seconds: float | None = None
    retry_max_seconds: float | None = None
    unavailable_ttl_minutes: float | None = None
    run_budget_seconds: float | None = None

    @property
    def uses_vendor(self) -> bool:
        return any(name != REFERENCE_FILE for name in self.providers)


@dataclass(frozen=True)
class LlmSettings:
    """Where an OpenAI-compatible model is; None on `Settings.llm` means the local classifier only."""

    base_url: str
    model: str
    options: Mapping[str, str] = field(default_factory=dict)
    # The name of the variable holding the key (never its value): resources take it as an EnvVar, so the
    # key stays out of run configuration, logs and the warehouse.
    api_key_variable: str | None = None

    def api_key(self) -> str | None:
        """The key itself, for a command that calls the model outside a Dagster run."""
        return os.environ.get(self.api_key_variable) if self.api_key_variable else None


# The intake signs with HMAC-SHA256; a short shared secret can be brute-forced offline from one request.
INTAKE_SECRET_MIN_LENGTH = 16


@dataclass(frozen=True)
class IntakeSettings:
    """The HTTP intake (`leadops serve`). The secret is optional here so that every other command runs
    without it; `require_secret` is what `serve` calls, and it refuses to start without one."""

    host: str = "127.0.0.1"
    port: int = 8787
    secret: str | None = field(default=None, repr=False)
    rate_per_second: float = 20.0
    burst: int = 40

    def require_secret(self) -> str:
        if not self.secret:
            raise SettingsError(
                "LEADOPS_INTAKE_SECRET is not set: the intake accepts only signed requests; set it to a"
                f" random string of at least {INTAKE_SECRET_MIN_LENGTH} characters"
            )
        return self.secret


CRM_KINDS = ("embedded", "hubspot", "salesforce", "bottlecrm")
# Variables each remote CRM needs; secrets among them reach resources as EnvVar, never as values.
CRM_REQUIRED_VARIABLES: dict[str, tuple[str, ...]] = {
    "embedded": (),
    "hubspot": ("LEADOPS_HUBSPOT_TOKEN",),
    "salesforce": ("LEADOPS_SALESFORCE_CLIENT_ID", "LEADOPS_SALESFORCE_CLIENT_SECRET"),
    "bottlecrm": (
        "LEADOPS_BOTTLECRM_URL",
        "LEADOPS_BOTTLECRM_TOKEN",
        "LEADOPS_BOTTLECRM_INTAKE_ID",
        "LEADOPS_BOTTLECRM_INTAKE_KEY",
    ),
}


@dataclass(frozen=True)
class CrmSettings:
    """Which CRM the pipeline reads and writes (`LEADOPS_CRM`), and the non-secret settings it needs.
    Tokens and keys stay in their variables: the definitions hand them to the resource as EnvVar."""

    kind: str = "embedded"
    hubspot_host: str | None = None
    salesforce_login_url: str | None = None
    bottlecrm_url: str | None = None
    bottlecrm_intake_id: str | None = None
    # When the pull_crm schedule brings the CRM snapshot up to date between batches, and when the
    # reconcile_crm schedule compares what LeadOps wrote with what the CRM holds.
    pull_cron: str = "*/10 * * * *"
    reconcile_cron: str = "40 * * * *"


@dataclass(frozen=True)
class OutboxSettings:
    """Retries of outbox actions; None leaves the outbox resource's own default in force."""

    max_attempts: int | None = None
    retry_base_seconds: float | None = None
    retry_max_seconds: float | None = None

    def overrides(self) -> dict[str, float | int]:
        return {name: value for name, value in vars(self).items() if value is not None}


SMTP_SECURITY = ("starttls", "ssl", "none")


@dataclass(frozen=True)
class NotificationSettings:
    """Slack, SMTP and CalDAV for notifications, each optional: a target left unset is never used. Secrets
    stay in their variables (LEADOPS_SLACK_TOKEN, LEADOPS_SMTP_PASSWORD, LEADOPS_CALDAV_PASSWORD): only
    whether each is set is kept here, and the definitions hand them to the resource as EnvVar."""

    slack_token_set: bool = False
    slack_base_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_user: str | None = None
    smtp_password_set: bool = False
    smtp_from: str | None = None
    caldav_url: str | None = None
    caldav_user: str | None = None
    caldav_password_set: bool = False


ENGINES = ("duckdb", "spark")


@dataclass(frozen=True)
class EngineSettings:
    """Which engine runs the dbt project and splink (`LEADOPS_ENGINE`): the DuckDB file, or Apache Spark.

    On Spark, dbt runs the `spark` target of dbt_project/profiles.yml (dbt-spark, `method: session`) in the
    session integrations/spark/session.py starts, and splink uses that same session (`SparkAPI`).
    `spark_master` is `local[N]` on one machine or a cluster manager's URL; the warehouse and checkpoint
    folders are under the data home unless set (on a cluster: a shared file system or object store).
    """

    name: str = "duckdb"
    spark_master: str = "local[2]"
    spark_warehouse_dir: Path | None = None
    spark_checkpoint_dir: Path | None = None

    @property
    def dbt_target(self) -> str:
        """The dbt_project/profiles.yml output of this engine (they are named after the engines)."""
        return self.name


@dataclass(frozen=True)
class Settings:
    home: Path
    policy_dir: str
    sensor_interval_seconds: int
    safety_net_cron: str
    identity: IdentitySettings
    enrichment: EnrichmentSettings
    llm: LlmSettings | None
    override_actor: str | None = None
    dagster_home_override: Path | None = None
    intake: IntakeSettings = field(default_factory=IntakeSettings)
    # The outcome marts (speed-to-lead, routing accuracy, workload, calibration) read whole history, so
    # they are rebuilt by `process_outcomes` (on feedback, and on this schedule) rather than per batch.
    outcomes_refresh_cron: str = "*/15 * * * *"
    crm: CrmSettings = field(default_factory=CrmSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = _Reader(os.environ if environ is None else environ)
        home = Path(env.text("LEADOPS_HOME") or REPO_ROOT / ".leadops").expanduser().resolve()
        dagster_home = env.text("DAGSTER_HOME")
        return cls(
            home=home,
            policy_dir=env.text("LEADOPS_POLICY_DIR", DEFAULT_POLICY_DIR) or DEFAULT_POLICY_DIR,
            sensor_interval_seconds=env.number(
                "LEADOPS_SENSOR_INTERVAL_SECONDS", 5, int, minimum=1, maximum=3600
            ),
            safety_net_cron=_cron(env.text("LEADOPS_SAFETY_NET_CRON", "*/15 * * * *") or "*/15 * * * *"),
            outcomes_refresh_cron=_cron(
                env.text("LEADOPS_OUTCOMES_CRON") or cls.outcomes_refresh_cron, "LEADOPS_OUTCOMES_CRON"
            ),
            identity=_identity_settings(env),
            enrichment=_enrichment_settings(env, home),
            llm=_llm_settings(env),
            override_actor=env.text("LEADOPS_ACTOR"),
            dagster_home_override=Path(dagster_home).expanduser().resolve() if dagster_home else None,
            intake=_intake_settings(env),
            crm=_crm_settings(env),
            outbox=_outbox_settings(env),
            notifications=_notification_settings(env),
            engine=_engine_settings(env, home),
        )

    @property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    @property
    def archive_dir(self) -> Path:
        return self.landing_dir / "archive"

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def reader_warehouse_path(self) -> Path:
        """The copy published after each successful run; CLI readers never touch the live file."""
        return reader_copy_of(self.warehouse_path)

    @property
    def feedback_dir(self) -> Path:
        """Where outcome files land (JSON Lines, `*.jsonl.tmp` then a rename), like the landing zone."""
        return self.home / "feedback"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def crm_path(self) -> Path:
        return self.home / "crm.sqlite"

    @property
    def llm_cache_path(self) -> Path:
        return self.home / "llm_cache.sqlite"

    @property
    def overrides_path(self) -> Path:
        return self.home / "overrides" / "overrides.csv"

    @property
    def dagster_home(self) -> Path:
        return self.dagster_home_override or self.home / "dagster"

    def prepare_home(self) -> None:
        """Create the data home and a DAGSTER_HOME whose dagster.yaml turns telemetry off.

        The home holds personal data (leads, CRM, caches, overrides): it is made private to this user,
        folders 700 and files 600, including what an earlier version or another umask left readable.
        The CLI also sets a 077 umask, so files created later start private. Called by the commands that
        run something, never at import."""
        import shutil

        for directory in (self.landing_dir, self.archive_dir, self.dagster_home):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        instance_yaml = self.dagster_home / "dagster.yaml"
        if not instance_yaml.exists():
            shutil.copyfile(REPO_ROOT / "dagster.yaml", instance_yaml)
        _make_private(self.home)
        if not self.dagster_home.is_relative_to(self.home):
            _make_private(self.dagster_home)

    def export_environment(self) -> None:
        """Share the one warehouse path and the policy folder with dbt and Dagster child processes."""
        os.environ["LEADOPS_HOME"] = str(self.home)
        os.environ["LEADOPS_WAREHOUSE_PATH"] = str(self.warehouse_path)
        os.environ["LEADOPS_POLICY_DIR"] = self.policy_dir
        os.environ["DAGSTER_HOME"] = str(self.dagster_home)


def _make_private(root: Path) -> None:
    """Take group and other permissions off `root` and everything under it that this user owns."""
    for folder, _, files in os.walk(root):
        for path in (Path(folder), *(Path(folder) / name for name in files)):
            try:
                mode = path.lstat().st_mode
                if mode & 0o077 and not path.is_symlink() and path.stat().st_uid == os.getuid():
                    path.chmod(mode & 0o700)
            except (FileNotFoundError, PermissionError):
                continue  # removed meanwhile (a landed file archived) or not ours to change


def _cron(expression: str, variable: str = "LEADOPS_SAFETY_NET_CRON") -> str:
    if len(expression.split()) != 5:
        raise SettingsError(f"{variable} must be a cron expression of 5 fields, got {expression!r}")
    return expression


def _identity_settings(env: _Reader) -> IdentitySettings:
    def optional(name: str, kind: Callable, **bounds: float):
        return env.number(name, None, kind, **bounds)  # type: ignore[arg-type]

    identity = IdentitySettings(
        auto_link=optional("LEADOPS_IDENTITY_AUTO_LINK", float, minimum=0, maximum=1),
        review=optional("LEADOPS_IDENTITY_REVIEW", float, minimum=0, maximum=1),
        max_candidate_pairs=optional("LEADOPS_IDENTITY_MAX_CANDIDATE_PAIRS", int, minimum=1),
        max_cluster_size=optional("LEADOPS_IDENTITY_MAX_CLUSTER_SIZE", int, minimum=2),
        max_auto_link_share=optional("LEADOPS_IDENTITY_MAX_AUTO_LINK_SHARE", float, minimum=0, maximum=1),
    )
    if (
        identity.review is not None
        and identity.auto_link is not None
        and identity.review > identity.auto_link
    ):
        raise SettingsError(
            f"LEADOPS_IDENTITY_REVIEW ({identity.review}) must not exceed"
            f" LEADOPS_IDENTITY_AUTO_LINK ({identity.auto_link})"
        )
    return identity


def _enrichment_settings(env: _Reader, home: Path) -> EnrichmentSettings:
    raw_path = env.text("LEADOPS_FIRMOGRAPHICS_PATH")
    providers = env.choices("LEADOPS_ENRICHMENT_PROVIDERS", (REFERENCE_FILE,), KNOWN_PROVIDERS)
    http_base_url = env.text("LEADOPS_ENRICHMENT_HTTP_URL")
    if HTTP_VENDOR in providers and not http_base_url:
        raise SettingsError(
            f"LEADOPS_ENRICHMENT_PROVIDERS names {HTTP_VENDOR}: set LEADOPS_ENRICHMENT_HTTP_URL too"
        )

    def optional(name: str, *, minimum: float, maximum: float | None = None) -> float | None:
        return env.number(name, None, float, minimum=minimum, maximum=maximum)  # type: ignore[arg-type]

    # Sub-second delays would make the retry sensor fire on every tick; one second is the floor.
    return EnrichmentSettings(
        firmographics_path=(Path(raw_path) if raw_path else home / "firmographics.csv")
        .expanduser()
        .resolve(),
        cache_path=(home / "enrichment_cache.sqlite").resolve(),
        providers=providers,
        http_base_url=http_base_url,
        confidence_threshold=optional("LEADOPS_ENRICHMENT_CONFIDENCE_THRESHOLD", minimum=0, maximum=1),
        deadline_minutes=optional("LEADOPS_ENRICHMENT_DEADLINE_MINUTES", minimum=0),
        retry_base_seconds=optional("LEADOPS_ENRICHMENT_RETRY_BASE_SECONDS", minimum=1),
        retry_max_seconds=optional("LEADOPS_ENRICHMENT_RETRY_MAX_SECONDS", minimum=1),
        unavailable_ttl_minutes=optional("LEADOPS_ENRICHMENT_UNAVAILABLE_TTL_MINUTES", minimum=1),
        run_budget_seconds=optional("LEADOPS_ENRICHMENT_RUN_BUDGET_SECONDS", minimum=1),
    )


# Optional LLM settings by variable; their types and ranges are checked by the LLM client's own model.
_LLM_OPTIONS = {
    "prompt": "LEADOPS_LLM_PROMPT",
    "timeout_seconds": "LEADOPS_LLM_TIMEOUT_SECONDS",
    "max_concurrency": "LEADOPS_LLM_MAX_CONCURRENCY",
    "price_per_1k_prompt_tokens": "LEADOPS_LLM_PRICE_PER_1K_PROMPT_TOKENS",
    "price_per_1k_completion_tokens": "LEADOPS_LLM_PRICE_PER_1K_COMPLETION_TOKENS",
}


def _llm_settings(env: _Reader) -> LlmSettings | None:
    base_url, model = env.text("LEADOPS_LLM_BASE_URL"), env.text("LEADOPS_LLM_MODEL")
    if not base_url and not model:
        return None
    if not base_url or not model:
        raise SettingsError("set both LEADOPS_LLM_BASE_URL and LEADOPS_LLM_MODEL, or neither")
    options = {key: value for key, name in _LLM_OPTIONS.items() if (value := env.text(name))}
    # Imported only when an LLM is configured: the client pulls in openai, which read-only commands skip.
    from pydantic import ValidationError

    from integrations.llm.client import LLMSettings

    try:
        LLMSettings(base_url=base_url, model=model, **options)
    except ValidationError as error:
        problem = error.errors()[0]
        variable = _LLM_OPTIONS.get(str(problem["loc"][0]), "LEADOPS_LLM_*")
        raise SettingsError(f"{variable}: {problem['msg']}, got {problem.get('input')!r}") from None
    key_variable = next((name for name in ("LEADOPS_LLM_API_KEY", "OPENAI_API_KEY") if env.text(name)), None)
    return LlmSettings(base_url=base_url, model=model, options=options, api_key_variable=key_variable)


def _intake_settings(env: _Reader) -> IntakeSettings:
    secret = env.text("LEADOPS_INTAKE_SECRET")
    if secret is not None and len(secret) < INTAKE_SECRET_MIN_LENGTH:
        raise SettingsError(
            f"LEADOPS_INTAKE_SECRET must be at least {INTAKE_SECRET_MIN_LENGTH} characters, got {len(secret)}"
        )
    defaults = IntakeSettings()
    return IntakeSettings(
        host=env.text("LEADOPS_INTAKE_HOST", defaults.host) or defaults.host,
        port=env.number("LEADOPS_INTAKE_PORT", defaults.port, int, minimum=1, maximum=65535),
        secret=secret,
        rate_per_second=env.number(
            "LEADOPS_INTAKE_RATE_PER_SECOND", defaults.rate_per_second, float, minimum=0.01
        ),
        burst=env.number("LEADOPS_INTAKE_BURST", defaults.burst, int, minimum=1),
    )


def _engine_settings(env: _Reader, home: Path) -> EngineSettings:
    name = env.text("LEADOPS_ENGINE", "duckdb") or "duckdb"
    if name not in ENGINES:
        raise SettingsError(f"LEADOPS_ENGINE must be one of {', '.join(ENGINES)}, got {name!r}")

    def folder(variable: str, default: Path) -> Path:
        raw = env.text(variable)
        return Path(raw).expanduser().resolve() if raw else default

    return EngineSettings(
        name=name,
        spark_master=env.text("LEADOPS_SPARK_MASTER", "local[2]") or "local[2]",
        spark_warehouse_dir=folder("LEADOPS_SPARK_WAREHOUSE_DIR", home / "spark" / "warehouse"),
        spark_checkpoint_dir=folder("LEADOPS_SPARK_CHECKPOINT_DIR", home / "spark" / "checkpoints"),
    )


def _crm_settings(env: _Reader) -> CrmSettings:
    kind = env.text("LEADOPS_CRM", "embedded") or "embedded"
    if kind not in CRM_KINDS:
        raise SettingsError(f"LEADOPS_CRM must be one of {', '.join(CRM_KINDS)}, got {kind!r}")
    missing = [name for name in CRM_REQUIRED_VARIABLES[kind] if not env.text(name)]
    if missing:
        raise SettingsError(
            f"LEADOPS_CRM={kind} needs {', '.join(missing)}: set {'it' if len(missing) == 1 else 'them'}"
        )
    return CrmSettings(
        kind=kind,
        hubspot_host=env.text("LEADOPS_HUBSPOT_HOST"),
        salesforce_login_url=env.text("LEADOPS_SALESFORCE_LOGIN_URL"),
        bottlecrm_url=env.text("LEADOPS_BOTTLECRM_URL"),
        bottlecrm_intake_id=env.text("LEADOPS_BOTTLECRM_INTAKE_ID"),
        pull_cron=_cron(env.text("LEADOPS_CRM_PULL_CRON") or CrmSettings.pull_cron, "LEADOPS_CRM_PULL_CRON"),
        reconcile_cron=_cron(
            env.text("LEADOPS_CRM_RECONCILE_CRON") or CrmSettings.reconcile_cron, "LEADOPS_CRM_RECONCILE_CRON"
        ),
    )


def _outbox_settings(env: _Reader) -> OutboxSettings:
    def optional(name: str, kind: Callable, **bounds: float):
        return env.number(name, None, kind, **bounds)  # type: ignore[arg-type]

    # A second is the floor: the retry schedule looks once a minute, shorter backoffs only bunch up.
    return OutboxSettings(
        max_attempts=optional("LEADOPS_OUTBOX_MAX_ATTEMPTS", int, minimum=1, maximum=100),
        retry_base_seconds=optional("LEADOPS_OUTBOX_RETRY_BASE_SECONDS", float, minimum=1),
        retry_max_seconds=optional("LEADOPS_OUTBOX_RETRY_MAX_SECONDS", float, minimum=1),
    )


def _notification_settings(env: _Reader) -> NotificationSettings:
    smtp_host, smtp_from = env.text("LEADOPS_SMTP_HOST"), env.text("LEADOPS_SMTP_FROM")
    if bool(smtp_host) != bool(smtp_from):
        raise SettingsError("set both LEADOPS_SMTP_HOST and LEADOPS_SMTP_FROM, or neither")
    security = env.text("LEADOPS_SMTP_TLS", "starttls") or "starttls"
    if security not in SMTP_SECURITY:
        raise SettingsError(f"LEADOPS_SMTP_TLS must be one of {', '.join(SMTP_SECURITY)}, got {security!r}")
    default_port = {"starttls": 587, "ssl": 465, "none": 25}[security]
    return NotificationSettings(
        slack_token_set=env.text("LEADOPS_SLACK_TOKEN") is not None,
        slack_base_url=env.text("LEADOPS_SLACK_BASE_URL"),
        smtp_host=smtp_host,
        smtp_port=env.number("LEADOPS_SMTP_PORT", default_port, int, minimum=1, maximum=65535),
        smtp_security=security,
        smtp_user=env.text("LEADOPS_SMTP_USER"),
        smtp_password_set=env.text("LEADOPS_SMTP_PASSWORD") is not None,
        smtp_from=smtp_from,
        caldav_url=env.text("LEADOPS_CALDAV_URL"),
        caldav_user=env.text("LEADOPS_CALDAV_USER"),
        caldav_password_set=env.text("LEADOPS_CALDAV_PASSWORD") is not None,
    )


def current_settings() -> Settings:
    """The settings of this process as the environment holds them now (sensors read them on each tick)."""
    return Settings.from_env()
