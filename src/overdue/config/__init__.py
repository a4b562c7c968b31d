"""Validated configuration: versioned policy files (TOML), shipped presets, case-file overrides."""

from overdue.config.policies import (
    POLICY_KEYS,
    PolicyConfigError,
    PolicySettings,
    build_policy,
    load_policy_file,
    load_policy_source,
    load_preset,
    preset_names,
)

__all__ = [
    "POLICY_KEYS",
    "PolicyConfigError",
    "PolicySettings",
    "build_policy",
    "load_policy_file",
    "load_policy_source",
    "load_preset",
    "preset_names",
]
