"""Configuration from a dict, JSON or TOML: a validated, immutable tree, three presets, and the
pipelines it describes (see ``merge.py`` for precedence, ``fields.py`` for every setting)."""

from resilience.config.build import PoolCallbacks, build_pipeline
from resilience.config.load import load_config, validate_config
from resilience.config.merge import Resolved, resolve
from resilience.config.presets import PRESETS, presets_table
from resilience.config.schema import OperationConfig, ResilienceConfig, Section

__all__ = [
    "PRESETS",
    "OperationConfig",
    "PoolCallbacks",
    "ResilienceConfig",
    "Resolved",
    "Section",
    "build_pipeline",
    "load_config",
    "presets_table",
    "resolve",
    "validate_config",
]
