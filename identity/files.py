"""`enjournal match-files`: the identity engine on any CSV file(s), no labels needed.

Columns get roles (given_name=fornavn,...); roles left out are not compared, and the
linkage spec shrinks to what is there. A national_id column that mostly does not hold
Norwegian numbers is compared as a plain identifier (exact, or one typo apart). One file
is deduplicated; two files are linked (only pairs across them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from identity.link import Thresholds, link
from identity.prepare import prepare
from identity.spec import load_spec

ROLE_COLUMNS = {
    "given_name": "given_name",
    "middle_name": "middle_name",
    "family_name": "family_name",
    "birth_date": "birth_date",
    "sex": "sex",
    "postcode": "postcode",
    "address": "address_line",
    "national_id": "national_id",
    "record_id": "record_id",
}
NORWEGIAN_SHARE = 0.5
"""Below this share of valid Norwegian numbers, a national_id column is a plain identifier."""


class RoleError(ValueError):
    """A --roles text that names an unknown role or a column the file lacks."""


def parse_roles(text: str) -> dict[str, str]:
    """`given_name=COL,family_name=COL` → {role: column}."""
    roles: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        role, _, column = part.partition("=")
        if role.strip() not in ROLE_COLUMNS or not column.strip():
            raise RoleError(f"unknown role or missing column in {part!r}; roles: {', '.join(ROLE_COLUMNS)}")
        roles[role.strip()] = column.strip()
    return roles


def read_records(path: Path, roles: dict[str, str], delimiter: str | None, encoding: str) -> pd.DataFrame:
    """A CSV file as records in the role columns; record_id defaults to the row number (from 1)."""
    frame = pd.read_csv(
        path,
        dtype=str,
        keep_default_na=False,
        sep=delimiter,
        engine="python" if delimiter is None else "c",
        encoding=encoding,
    )
    missing = sorted(set(roles.values()) - set(frame.columns))
    if missing:
        raise RoleError(f"{path}: no column(s) {missing}; columns: {list(frame.columns)}")
    out = pd.DataFrame({ROLE_COLUMNS[role]: frame[column] for role, column in roles.items()})
    out = out.replace({"": None})
    if "record_id" not in out:
        out["record_id"] = [str(i) for i in range(1, len(frame) + 1)]
    return out


def match_csv(
    paths: list[Path],
    roles_text: str,
    out: Path,
    *,
    auto_match: float = 0.999,
    review: float = 0.5,
    delimiter: str | None = None,
    encoding: str = "utf-8",
) -> dict[str, int]:
    """Link the file(s) and write `out/links.csv` and `out/clusters.csv`; return counts."""
    roles = parse_roles(roles_text)
    if not set(roles) - {"record_id"}:
        raise RoleError("give at least one role to compare (e.g. --roles given_name=first,family_name=last)")
    frames = [read_records(path, roles, delimiter, encoding) for path in paths]
    raw = pd.concat(frames, ignore_index=True)
    groups = np.repeat(np.arange(len(frames)), [len(f) for f in frames]) if len(frames) == 2 else None
    records = prepare(raw, plain_ids=_plain_ids(raw))
    present = {c for c in records.columns if records[c].notna().any()}
    spec = load_spec().restricted(present)
    result = link(records, spec, Thresholds(auto_match, review), groups=groups)
    ids = raw["record_id"].astype(str).to_numpy()
    pairs = result.pairs
    links = pd.DataFrame(
        {
            "record_id_l": ids[pairs["left"].to_numpy()],
            "record_id_r": ids[pairs["right"].to_numpy()],
            "match_weight": pairs["match_weight"].round(3),
            "match_probability": pairs["match_probability"].round(6),
            "band": pairs["band"],
        }
    ).sort_values(["band", "match_weight"], ascending=[True, False])
    clusters = pd.DataFrame({"record_id": ids, "cluster_id": pd.factorize(result.cluster)[0] + 1})
    if groups is not None:
        clusters.insert(0, "source", np.array([p.name for p in paths], dtype=object)[groups])
    out.mkdir(parents=True, exist_ok=True)
    links.to_csv(out / "links.csv", index=False)
    clusters.to_csv(out / "clusters.csv", index=False)
    (out / "model.json").write_text(result.model.to_json() + "\n", encoding="utf-8")
    return {
        "records": len(records),
        "auto": int((pairs["band"] == "auto").sum()),
        "review": int((pairs["band"] == "review").sum()),
        "clusters": int(clusters["cluster_id"].nunique()),
    }


def _plain_ids(raw: pd.DataFrame) -> bool:
    """Whether the national_id column is something other than Norwegian national IDs."""
    if "national_id" not in raw or raw["national_id"].isna().all():
        return False
    from identity.national_id import classify_series

    return float(classify_series(raw["national_id"].dropna())["id_valid"].mean()) < NORWEGIAN_SHARE
