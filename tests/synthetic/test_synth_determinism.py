"""Same seed and arguments give byte-identical output; another seed does not."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from synthetic import Manifest, generate


def _digest(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def twice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    a, b, c = (tmp_path_factory.mktemp(name) for name in ("a", "b", "c"))
    generate(a, persons=300, seed=11)
    generate(b, persons=300, seed=11)
    generate(c, persons=300, seed=12)
    return a, b, c


def test_same_seed_gives_identical_bytes(twice: tuple[Path, Path, Path]) -> None:
    a, b, _ = twice
    digest = _digest(a)
    assert len(digest) > 20
    assert digest == _digest(b)


def test_other_seed_gives_other_data(twice: tuple[Path, Path, Path]) -> None:
    a, _, c = twice
    for name in ("persons.csv", "truth.csv", "hospital/epr.sqlite", "municipal/brukere.csv"):
        assert (a / name).read_bytes() != (c / name).read_bytes(), name


def test_rerun_into_same_folder_replaces_old_output(tmp_path: Path) -> None:
    generate(tmp_path, persons=200, seed=1)
    stale = tmp_path / "gp" / "messages" / "stale.xml"
    stale.write_text("old", encoding="utf-8")
    generate(tmp_path, persons=60, seed=2)
    assert not stale.exists()
    fresh = tmp_path.parent / "fresh"
    generate(fresh, persons=60, seed=2)
    assert _digest(tmp_path) == _digest(fresh)


def test_manifest_file_matches_returned_manifest(twice: tuple[Path, Path, Path]) -> None:
    a, _, _ = twice
    manifest = Manifest.read(a / "manifest.json")
    assert manifest.seed == 11 and manifest.persons == 300 and manifest.error_rate == 0.05
    assert manifest.reference_date == "2025-06-30"
    assert manifest == generate(a.parent / "again", persons=300, seed=11)
