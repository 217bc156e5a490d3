"""Generated regions shared by the synthetic tests (generated once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthetic import Manifest, generate

REGION_PERSONS = 2000


@pytest.fixture(scope="session")
def region(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    """A 2,000-person region with the default 5% error rate."""
    out = tmp_path_factory.mktemp("region")
    return out, generate(out, persons=REGION_PERSONS, seed=42, error_rate=0.05)


@pytest.fixture(scope="session")
def clean_region(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    """A 600-person region without planted errors."""
    out = tmp_path_factory.mktemp("clean")
    return out, generate(out, persons=600, seed=3, error_rate=0.0)


@pytest.fixture(scope="session")
def noisy_region(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    """A 1,500-person region with a 30% error rate, so that rare error kinds occur."""
    out = tmp_path_factory.mktemp("noisy")
    return out, generate(out, persons=1500, seed=8, error_rate=0.3)
