"""Which adapters the dispatcher uses: a TOML file and/or environment variables.

TOML (every section optional)::

    [smtp]
    host = "127.0.0.1"
    port = 2525
    from = "collections@example.com"
    timeout_seconds = 10

    [webhook.sms]            # also webhook.voice_robot, webhook.push
    url = "http://127.0.0.1:8080/sms"
    secret_env = "OVERDUE_SMS_SECRET"   # or secret = "..." (prefer the environment)

    [files]                  # letter, agency, legal hand-overs
    dir = "/var/lib/overdue/outbound"

    [dispatch]               # worker limits (see DispatchSettings)
    batch_size = 100
    max_attempts = 5

Environment (added to, and overriding, the file): ``OVERDUE_SMTP_HOST``, ``OVERDUE_SMTP_PORT``,
``OVERDUE_SMTP_FROM``, ``OVERDUE_WEBHOOK_<CHANNEL>_URL`` and ``OVERDUE_WEBHOOK_<CHANNEL>_SECRET``
(CHANNEL = SMS, VOICE_ROBOT, PUSH), ``OVERDUE_FILES_DIR``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from overdue.contact.adapters.base import FILE_CHANNELS, WEBHOOK_CHANNELS, Adapter
from overdue.contact.adapters.files import CAPTURE_CHANNELS, FileAdapter
from overdue.contact.adapters.smtp import SmtpAdapter, SmtpConfig
from overdue.contact.adapters.webhook import WebhookAdapter, WebhookEndpoint

SECTIONS = ("smtp", "webhook", "files", "dispatch")
SMTP_KEYS = ("host", "port", "from", "timeout_seconds", "starttls", "username", "password_env")
WEBHOOK_KEYS = ("url", "secret", "secret_env", "timeout_seconds")
FILES_KEYS = ("dir", "channels")
DISPATCH_KEYS = (
    "batch_size",
    "max_attempts",
    "backoff_base_seconds",
    "backoff_cap_seconds",
    "lease_seconds",
    "idle_sleep_seconds",
    "send_budget_seconds",
)


class ChannelConfigError(ValueError):
    """A configuration problem, naming the source and the key."""


@dataclass(frozen=True)
class ChannelConfig:
    smtp: SmtpConfig | None = None
    webhooks: dict[str, WebhookEndpoint] = field(default_factory=dict)
    files_dir: Path | None = None
    files_channels: tuple[str, ...] = FILE_CHANNELS
    dispatch: dict[str, Any] = field(default_factory=dict)
    capture: bool = False

    @property
    def channels(self) -> list[str]:
        found = (["email"] if self.smtp else []) + sorted(self.webhooks)
        return found + (list(self.files_channels) if self.files_dir else [])


def _check_keys(where: str, table: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ChannelConfigError(f"{where}: unknown key(s) {unknown}; allowed: {list(allowed)}")


def _secret(where: str, table: Mapping[str, Any], env: Mapping[str, str]) -> str:
    if "secret_env" in table:
        name = str(table["secret_env"])
        if not env.get(name):
            raise ChannelConfigError(f"{where}.secret_env: environment variable {name} is not set")
        return env[name]
    if not table.get("secret"):
        raise ChannelConfigError(f"{where}: needs secret or secret_env")
    return str(table["secret"])


def _smtp(source: str, table: Mapping[str, Any], env: Mapping[str, str]) -> SmtpConfig:
    _check_keys(f"{source} [smtp]", table, SMTP_KEYS)
    password = env.get(str(table["password_env"])) if "password_env" in table else None
    try:
        return SmtpConfig(
            host=str(table.get("host", "127.0.0.1")),
            port=int(table.get("port", 25)),
            sender=str(table.get("from", "overdue@localhost")),
            timeout_seconds=float(table.get("timeout_seconds", 10.0)),
            starttls=bool(table.get("starttls", False)),
            username=table.get("username"),
            password=password,
        )
    except (TypeError, ValueError) as exc:
        raise ChannelConfigError(f"{source} [smtp]: {exc}") from None


def _webhook(where: str, table: Mapping[str, Any], env: Mapping[str, str]) -> WebhookEndpoint:
    _check_keys(where, table, WEBHOOK_KEYS)
    try:
        return WebhookEndpoint(
            url=str(table.get("url", "")),
            secret=_secret(where, table, env),
            timeout_seconds=float(table.get("timeout_seconds", 10.0)),
        )
    except (TypeError, ValueError) as exc:
        raise ChannelConfigError(f"{where}: {exc}") from None


def _from_environment(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    smtp = raw.setdefault("smtp", {}) if env.get("OVERDUE_SMTP_HOST") else raw.get("smtp")
    if smtp is not None:
        for key, name in (("host", "HOST"), ("port", "PORT"), ("from", "FROM")):
            if env.get(f"OVERDUE_SMTP_{name}"):
                smtp[key] = env[f"OVERDUE_SMTP_{name}"]
    for channel in WEBHOOK_CHANNELS:
        url = env.get(f"OVERDUE_WEBHOOK_{channel.upper()}_URL")
        if url:
            hook = raw.setdefault("webhook", {}).setdefault(channel, {})
            hook["url"] = url
            secret = env.get(f"OVERDUE_WEBHOOK_{channel.upper()}_SECRET")
            if secret:
                hook.pop("secret_env", None)
                hook["secret"] = secret
    if env.get("OVERDUE_FILES_DIR"):
        raw.setdefault("files", {})["dir"] = env["OVERDUE_FILES_DIR"]


def load_channel_config(path: Path | None, env: Mapping[str, str] | None = None) -> ChannelConfig:
    """Read ``path`` (TOML, optional) and the environment into a validated config."""
    environment = os.environ if env is None else env
    source = str(path) if path else "environment"
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ChannelConfigError(f"{path}: {exc}") from None
    _check_keys(source, raw, SECTIONS)
    _from_environment(raw, environment)
    smtp = _smtp(source, raw["smtp"], environment) if "smtp" in raw else None
    webhooks = {}
    for channel, table in dict(raw.get("webhook", {})).items():
        if channel not in WEBHOOK_CHANNELS:
            raise ChannelConfigError(f"{source} [webhook.{channel}]: not one of {WEBHOOK_CHANNELS}")
        webhooks[channel] = _webhook(f"{source} [webhook.{channel}]", table, environment)
    files = dict(raw.get("files", {}))
    _check_keys(f"{source} [files]", files, FILES_KEYS)
    files_channels = tuple(files.get("channels", FILE_CHANNELS))
    unknown = sorted(set(files_channels) - set(FILE_CHANNELS))
    if unknown:
        raise ChannelConfigError(
            f"{source} [files] channels: {unknown} not in {list(FILE_CHANNELS)} "
            "(use overdue dispatch --capture DIR to write every channel to files)"
        )
    dispatch = dict(raw.get("dispatch", {}))
    _check_keys(f"{source} [dispatch]", dispatch, DISPATCH_KEYS)
    return ChannelConfig(
        smtp=smtp,
        webhooks=webhooks,
        files_dir=Path(files["dir"]) if "dir" in files else None,
        files_channels=files_channels,
        dispatch=dispatch,
    )


def capture_config(directory: Path, dispatch: dict[str, Any] | None = None) -> ChannelConfig:
    """Every machine channel written to files under ``directory``: nothing leaves the host."""
    return ChannelConfig(files_dir=Path(directory), files_channels=CAPTURE_CHANNELS,
                         dispatch=dict(dispatch or {}), capture=True)


def build_adapters(config: ChannelConfig) -> dict[str, Adapter]:
    """Fresh adapter instances (one set per worker thread), keyed by channel."""
    adapters: dict[str, Adapter] = {}
    if config.smtp is not None:
        adapters["email"] = SmtpAdapter(config.smtp)
    if config.webhooks:
        webhook = WebhookAdapter(config.webhooks)
        adapters.update({channel: webhook for channel in config.webhooks})
    if config.files_dir is not None:
        files = FileAdapter(config.files_dir, config.files_channels, capture=config.capture)
        adapters.update({channel: files for channel in config.files_channels})
    return adapters
