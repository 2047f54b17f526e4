"""The memory estimate against a real measurement of the real MiniLM (slow tier; the tiny
model's measurements are in tests/memory/test_measure.py)."""

import pytest

from core.memory.estimate import EstimateConfig
from core.memory.measure import measure

pytestmark = pytest.mark.slow


def test_minilm_inference_estimate_within_10_percent(real_settings):
    from core.memory.config_input import describe

    desc = describe("builtin:all-minilm-l6-v2", real_settings.models_dir)
    out = measure(desc.config, desc.location, EstimateConfig(dtype="fp32", seq=128))
    total = out["comparison"][-1]
    assert abs(total["error_pct"]) < 10, out["comparison"]
