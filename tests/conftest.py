"""Fixtures shared by several test files, made once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def pretrained_presets(tmp_path_factory):
    """{'distil_bert': folder, 'bert': folder}: random-weight keras-hub presets (tests/
    pretrained_presets.py), saved once for every test that fine-tunes one."""
    from pretrained_presets import save_presets

    return save_presets(tmp_path_factory.mktemp("presets"))
