"""The persons-only generator gives the person records the full pipeline maps from the
legacy files (same people, same errors, same shapes), and the same truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from identity.prepare import prepare
from pipelines.config import load_config
from pipelines.demo import write_demo
from pipelines.stages import RunContext, _mapped_valid, extract
from pipelines.workspace import Workspace
from synthetic.person_records import person_records

COMPARED = ["given_key", "family_key", "birth_days", "sex", "id_value", "postcode", "address_key"]


def test_fast_person_records_equal_what_the_pipeline_maps(tmp_path: Path) -> None:
    config = load_config(write_demo(tmp_path, persons=150, seed=3, error_rate=0.2))
    ctx = RunContext(config, Workspace.create(config.workdir, "t"), dt.datetime(2025, 7, 1))
    frames = []
    for name in ctx.source_names:
        extract(ctx, name)
        frames.append(_mapped_valid(ctx, name, "person"))
    mapped = prepare(pd.concat(frames, ignore_index=True))
    fast, truth = person_records(150, seed=3, error_rate=0.2)
    keys = ["source_system", "source_person_id"]
    expected = mapped.astype({k: str for k in keys}).set_index(keys)[COMPARED].astype("string")
    produced = prepare(fast).astype({k: str for k in keys}).set_index(keys)[COMPARED].astype("string")
    pd.testing.assert_frame_equal(produced.sort_index(), expected.sort_index())
    written = pd.read_csv(tmp_path / "legacy" / "truth.csv", dtype=str)
    assert sorted(map(tuple, truth.to_numpy())) == sorted(map(tuple, written.to_numpy()))
