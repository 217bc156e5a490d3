"""The match report a data steward opens: review pairs side by side, as HTML, CSV and JSON.

Each pair shows every compared field of both records, the comparison level it reached
and the match weight it added, drawn as a waterfall from the prior to the pair's
total. The page is one self-contained file (no CDN, no script), escapes everything it
shows, masks national IDs (`150786*****`), and hides the address and postcode of any
person with a confidential-address flag in any of their records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from identity.compare import compare
from identity.model import Model
from identity.national_id import mask
from identity.spec import LinkageSpec

TEMPLATES = Path(__file__).with_name("templates")
HIDDEN = "(hidden: confidential address)"
SHOWN = {
    "national_id": lambda r: mask(r.get("national_id")),
    "birth_date": lambda r: _date(r.get("birth_date")),
    "given_name": lambda r: " ".join(
        str(v) for v in (r.get("given_name"), r.get("middle_name")) if _present(v)
    ),
    "family_name": lambda r: _text(r.get("family_name")),
    "sex": lambda r: _text(r.get("sex")),
    "postcode": lambda r: _text(r.get("postcode")),
    "address": lambda r: _text(r.get("address_line")),
}
"""What each comparison shows of a record (source values, IDs masked)."""
SECRET = frozenset({"postcode", "address"})


@dataclass
class ReportPair:
    pair_id: str
    left: str
    right: str
    match_weight: float
    match_probability: float
    reason: str
    fields: list[dict[str, Any]]
    steps: list[dict[str, Any]]


def review_pairs(
    persons: pd.DataFrame, review: pd.DataFrame, spec: LinkageSpec, model: Model, cluster: np.ndarray
) -> list[ReportPair]:
    """Evidence for every review pair (review has `left`/`right` record positions)."""
    if review.empty:
        return []
    left, right = review["left"].to_numpy(), review["right"].to_numpy()
    vectors = compare(persons, left, right, spec)
    weights = model.field_weights(vectors)
    flags = _flag(persons, "confidential_address")
    hidden = pd.Series(flags).groupby(cluster).transform("any").to_numpy() | flags
    rows = persons.to_dict("records")
    pairs = []
    for i, pair in enumerate(review.itertuples(index=False)):
        a, b = rows[left[i]], rows[right[i]]
        secret = bool(hidden[left[i]] or hidden[right[i]])
        fields = [
            {
                "name": name,
                "left": HIDDEN if secret and name in SECRET else SHOWN.get(name, lambda r: "")(a),
                "right": HIDDEN if secret and name in SECRET else SHOWN.get(name, lambda r: "")(b),
                "level": model.labels[f][vectors.levels[i, f]],
                "weight": round(float(weights[i, f]), 2),
            }
            for f, name in enumerate(model.names)
        ]
        pairs.append(
            ReportPair(
                pair_id=pair.pair_id,
                left=f"{pair.left_source_system} {pair.left_source_person_id}",
                right=f"{pair.right_source_system} {pair.right_source_person_id}",
                match_weight=round(float(pair.match_weight), 2)
                if _present(pair.match_weight)
                else float("nan"),
                match_probability=round(float(pair.match_probability), 4)
                if _present(pair.match_probability)
                else float("nan"),
                reason=str(pair.reason),
                fields=fields,
                steps=_waterfall(model.prior_weight(), fields),
            )
        )
    return pairs


def write_reports(
    folder: Path, pairs: list[ReportPair], summary: dict[str, Any], model: Model, blocking: pd.DataFrame
) -> dict[str, Path]:
    """match_report.html, review.csv and review.json in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "html": folder / "match_report.html",
        "csv": folder / "review.csv",
        "json": folder / "review.json",
    }
    paths["html"].write_text(render_html(pairs, summary, blocking), encoding="utf-8")
    review_table(pairs).to_csv(paths["csv"], index=False)
    document = {
        "summary": summary,
        "model": model.as_dict(),
        "blocking": blocking.to_dict("records"),
        "pairs": [pair.__dict__ for pair in pairs],
    }
    paths["json"].write_text(
        json.dumps(document, indent=2, ensure_ascii=False, default=_plain) + "\n", encoding="utf-8"
    )
    return paths


def render_html(pairs: list[ReportPair], summary: dict[str, Any], blocking: pd.DataFrame) -> str:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), keep_trailing_newline=True
    )
    template = environment.get_template("match_report.html")
    return template.render(pairs=pairs, summary=summary, blocking=blocking.to_dict("records"))


def review_table(pairs: list[ReportPair]) -> pd.DataFrame:
    """One row per pair for a spreadsheet: both sides of each field, its level and weight."""
    rows = []
    for pair in pairs:
        row: dict[str, Any] = {
            "pair_id": pair.pair_id,
            "left": pair.left,
            "right": pair.right,
            "match_weight": pair.match_weight,
            "match_probability": pair.match_probability,
            "reason": pair.reason,
        }
        for field in pair.fields:
            for key in ("left", "right", "level", "weight"):
                row[f"{field['name']}_{key}"] = field[key]
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["pair_id", "left", "right", "match_weight"])


def _waterfall(prior: float, fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bar geometry (percent of the width) from the prior through each field's weight."""
    points = np.cumsum([prior, *(f["weight"] for f in fields)])
    low, high = min(0.0, points.min()), max(0.0, points.max())
    span = max(high - low, 1e-9)
    starts = np.r_[0.0, points[:-1]]
    steps = []
    for label, start, end in zip(["prior", *(f["name"] for f in fields)], starts, points, strict=True):
        left, right = sorted((start, end))
        steps.append(
            {
                "label": label,
                "weight": round(float(end - start), 2),
                "left": round((left - low) / span * 100, 2),
                "width": round(max((right - left) / span * 100, 0.3), 2),
                "sign": "plus" if end >= start else "minus",
            }
        )
    return steps


def _flag(persons: pd.DataFrame, column: str) -> np.ndarray:
    if column not in persons:
        return np.zeros(len(persons), dtype=bool)
    return persons[column].astype("boolean").fillna(False).to_numpy(dtype=bool)


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value)) and value is not pd.NA


def _text(value: object) -> str:
    return str(value) if _present(value) and not pd.isna(value) else ""


def _date(value: object) -> str:
    return pd.Timestamp(value).date().isoformat() if _present(value) and not pd.isna(value) else ""


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
