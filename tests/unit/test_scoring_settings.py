"""Every scoring threshold is a setting, and the settings' defaults are scoring.md's."""

from __future__ import annotations

import dataclasses

import pytest

from prism.score.thresholds import ScoringConfig
from prism.settings import Settings


def test_every_threshold_is_a_setting_with_the_same_default() -> None:
    settings_fields = Settings.model_fields
    for f in dataclasses.fields(ScoringConfig):
        assert f.name in settings_fields, f"ScoringConfig.{f.name} has no PRISM_ setting"
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        setting_default = settings_fields[f.name].default
        if isinstance(default, frozenset):
            setting_default = frozenset(setting_default)
        assert setting_default == default, f"default of {f.name} differs"
    assert ScoringConfig.from_settings(Settings()) == ScoringConfig()


def test_a_threshold_set_by_environment_reaches_the_judge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISM_MIN_WORK_ACTIONS", "5")
    monkeypatch.setenv("PRISM_ARC_GAP_SECONDS", "3")
    monkeypatch.setenv("PRISM_BLOCKING_FLAGS", '["self_grading"]')
    config = ScoringConfig.from_settings(Settings())
    assert config.min_work_actions == 5
    assert config.arc_gap_seconds == 3
    assert config.blocking_flags == frozenset({"self_grading"})
