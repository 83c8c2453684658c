"""Hypothesis profiles for the fuzz suite: a small fixed-seed run in CI, as long as you like on demand.

    pytest tests/fuzz                                # CI: derandomized, a few examples per generator
    BNLINT_FUZZ_EXAMPLES=5000 pytest tests/fuzz      # long: 5,000 random examples per generator
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, settings

_LONG = int(os.environ.get("BNLINT_FUZZ_EXAMPLES", "0") or 0)
_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

# Every example starts bnlint as a fresh process (~0.3 s): CI runs a handful per generator, and
# reports a failing example as generated (shrinking it to a minimal one is for the long runs).
settings.register_profile("ci", max_examples=4, derandomize=True, deadline=None, suppress_health_check=_CHECKS, print_blob=True,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.register_profile("long", max_examples=max(_LONG, 1), derandomize=False, deadline=None,
                          suppress_health_check=_CHECKS, print_blob=True)
settings.load_profile("long" if _LONG else "ci")


def pytest_collection_modifyitems(items):
    for item in items:
        if "/fuzz/" in str(item.fspath):
            item.add_marker(pytest.mark.slow)
