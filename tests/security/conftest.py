"""Hypothesis profiles for the fuzz suites: ``ci`` (default) and ``thorough``.

Choose one with ``HYPOTHESIS_PROFILE=thorough``. Example databases are off so a
run depends on nothing but the code (CI starts from a clean clone anyway).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = settings(deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("ci", _COMMON, max_examples=200)
settings.register_profile("thorough", _COMMON, max_examples=5000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
