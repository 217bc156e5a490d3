"""The demo: a synthetic region's legacy data plus a migration config that reads it."""

from __future__ import annotations

import shutil
from pathlib import Path

TEMPLATE = Path(__file__).with_name("demo_migration.yaml")


def write_demo(workdir: Path, *, persons: int, seed: int, error_rate: float) -> Path:
    """Synthesise `workdir/legacy/` and write `workdir/migration.yaml`; return the config path."""
    from synthetic import generate

    workdir.mkdir(parents=True, exist_ok=True)
    generate(workdir / "legacy", persons=persons, seed=seed, error_rate=error_rate)
    config = workdir / "migration.yaml"
    shutil.copyfile(TEMPLATE, config)
    return config
