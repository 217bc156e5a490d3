"""Steward decisions on review pairs: read, resolve to source records, store in the journal.

A decision names a pair by its `pair_id` (from the match report); it is stored with the
two source records it joins or separates, who decided, when and why, in the journal's
`match_decision` table, and every later run replays it (accept = forced link, reject =
cannot-link). Deciding a pair again replaces the earlier decision.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, delete, insert, select

from journal.schema import MatchDecision

DECISIONS = ("accept", "reject")
SIDES = ("left_source_system", "left_source_person_id", "right_source_system", "right_source_person_id")


class DecisionError(ValueError):
    """Decisions that cannot be stored (unknown pair, unknown verdict), with what was wrong."""


def read_csv(path: Path, decided_by: str | None = None) -> pd.DataFrame:
    """A decisions CSV: pair_id, decision (accept/reject), and optionally decided_by, decided_at, reason.

    Rows without a decision are skipped (a review.csv handed back half filled in).
    """
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"pair_id", "decision"} - set(frame.columns)
    if missing:
        raise DecisionError(f"{path}: missing column(s) {sorted(missing)}")
    frame = frame[frame["decision"].str.strip() != ""].copy()
    frame["decision"] = frame["decision"].str.strip().str.lower()
    if "decided_by" not in frame or decided_by:
        frame["decided_by"] = decided_by or ""
    return frame


def resolve(decisions: pd.DataFrame, review: pd.DataFrame, now: dt.datetime) -> pd.DataFrame:
    """Decisions with the two source records of each pair, checked; ready to store."""
    wrong = sorted(set(decisions["decision"]) - set(DECISIONS))
    if wrong:
        raise DecisionError(f"decision must be accept or reject, not {wrong}")
    unsigned = decisions["decided_by"].fillna("").str.strip() == ""
    if unsigned.any():
        raise DecisionError("every decision needs who made it (decided_by, or --by)")
    sides = review.drop_duplicates("pair_id").set_index("pair_id")[list(SIDES)]
    unknown = sorted(set(decisions["pair_id"]) - set(sides.index))
    if unknown:
        raise DecisionError(f"no review pair {', '.join(unknown[:5])} in the latest match report")
    out = decisions.drop_duplicates("pair_id", keep="last").join(sides, on="pair_id")
    stamp = pd.to_datetime(out["decided_at"], errors="coerce") if "decided_at" in out else pd.NaT
    out["decided_at"] = pd.Series(stamp, index=out.index).fillna(pd.Timestamp(now)).dt.to_pydatetime()
    out["reason"] = out["reason"].replace("", None) if "reason" in out else None
    return out[["pair_id", *SIDES, "decision", "decided_by", "decided_at", "reason"]].reset_index(drop=True)


def store(engine: Engine, decisions: pd.DataFrame) -> int:
    """Upsert decisions by pair_id (a later decision replaces an earlier one)."""
    if decisions.empty:
        return 0
    rows = decisions.astype(object).where(decisions.notna(), None).to_dict("records")
    with engine.begin() as connection:
        connection.execute(
            delete(MatchDecision).where(MatchDecision.pair_id.in_(decisions["pair_id"].tolist()))
        )
        connection.execute(insert(MatchDecision), rows)
    return len(rows)


def load(engine: Engine) -> pd.DataFrame:
    """Every stored decision (replayed by each run)."""
    with engine.connect() as connection:
        return pd.read_sql(select(MatchDecision), connection)
