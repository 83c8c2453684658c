"""Parse YAML data files (rules, knowledge, configuration) safely, with libyaml's C parser when present."""

from __future__ import annotations

import yaml

# The C loader is several times faster; loading the rules is part of every run's start-up.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

YAMLError = yaml.YAMLError


def load(text: str):
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader, C or Python
