"""Identity engine benchmark: quality and cost on synthetic regions of 10k, 100k and 1M person records.

    python bench/identity.py                          # 10k, 100k and 1M records
    python bench/identity.py --records 100000 --json result.json

For each size the person records of a synthetic region (`synthetic.person_records`, the
same records `enjournal synth` writes, shaped as the person mappings shape them) are
written to Parquet; a fresh process then reads them and links them with the migration's
settings (`identity.match`), so that its peak memory is the linking's alone. Printed per
size: precision, recall and F1 of the auto band and of auto + review (every review pair
accepted), false merges (and those holding two valid IDs of any kinds), clusters holding
two valid IDs of one kind, how many people with a D-number and a later fødselsnummer end
in one cluster, seconds, peak memory, and the blocking report with pairs completeness
per rule.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# This file is bench/identity.py: as a script, its folder would shadow the identity package.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

RECORDS_PER_PERSON = 2.32
"""Person records per true person in a synthetic region at the default error rate."""


def child(records_path: Path, truth_path: Path, auto_match: float, review: float) -> dict[str, object]:
    """Link one region's records in this process and measure it."""
    import numpy as np
    import pandas as pd

    from identity.cluster import components
    from identity.evaluate import (
        blocking_completeness,
        false_merges,
        id_changes,
        id_conflicts,
        id_false_merges,
        pair_metrics,
    )
    from identity.match import Thresholds, match, prepare

    raw = pd.read_parquet(records_path)
    truth = pd.read_parquet(truth_path)
    started = time.perf_counter()
    persons = prepare(raw)
    prepared = time.perf_counter()
    matches = match(persons, Thresholds(auto_match, review))
    finished = time.perf_counter()
    keyed = persons[["source_system", "source_person_id"]].merge(
        truth, on=["source_system", "source_person_id"], how="left"
    )
    true_person = keyed["person_id"].to_numpy()
    auto = matches.records["cluster"].to_numpy()
    pairs = matches.linkage.pairs
    with_review = components(len(persons), pairs["left"].to_numpy(), pairs["right"].to_numpy())
    blocking = blocking_completeness(persons, matches.linkage.candidates, matches.spec.blocking, true_person)
    return {
        "records": len(persons),
        "true_persons": int(pd.Series(true_person).nunique()),
        "seconds_prepare": round(prepared - started, 1),
        "seconds_link": round(finished - prepared, 1),
        "seconds": round(finished - started, 1),
        "peak_memory_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "auto": pair_metrics(auto, true_person),
        "auto_and_review": pair_metrics(with_review, true_person),
        "false_merges": false_merges(auto, true_person),
        "id_conflicts": id_conflicts(auto, persons),
        "id_false_merges": id_false_merges(auto, true_person, persons),
        "id_changes": id_changes(auto, true_person, persons),
        "id_changes_with_review": id_changes(with_review, true_person, persons),
        "review_pairs": len(matches.review),
        "candidate_pairs": len(matches.linkage.candidates),
        "prior": matches.linkage.model.prior,
        "blocking": blocking.replace({np.nan: None}).to_dict("records"),
    }


def run(records: int, seed: int, error_rate: float, auto_match: float, review: float) -> dict[str, object]:
    from synthetic.person_records import person_records

    persons = max(1, round(records / RECORDS_PER_PERSON))
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        frame, truth = person_records(persons, seed=seed, error_rate=error_rate)
        generated = time.perf_counter() - started
        frame.to_parquet(Path(folder) / "records.parquet")
        truth.to_parquet(Path(folder) / "truth.parquet")
        del frame, truth
        output = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                str(Path(folder) / "records.parquet"),
                str(Path(folder) / "truth.parquet"),
                "--auto-match",
                str(auto_match),
                "--review",
                str(review),
            ],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        ).stdout
    result = json.loads(output)
    result["persons_drawn"] = persons
    result["seconds_generate"] = round(generated, 1)
    return result


def show(result: dict[str, object]) -> None:
    auto, both = result["auto"], result["auto_and_review"]
    print(
        f"\n{result['records']:,} person records ({result['true_persons']:,} true persons): "
        f"{result['seconds']} s (prepare {result['seconds_prepare']} s, link {result['seconds_link']} s), "
        f"peak memory {result['peak_memory_gib']} GiB"
    )
    print("| band | precision | recall | F1 |\n|---|---|---|---|")
    for name, m in (("auto", auto), ("auto + review", both)):
        print(f"| {name} | {m['precision']:.5f} | {m['recall']:.5f} | {m['f1']:.5f} |")
    changes, reviewed = result["id_changes"], result["id_changes_with_review"]
    print(
        f"false merges {result['false_merges']} (holding two valid IDs of any kinds "
        f"{result['id_false_merges']}), clusters with two valid IDs of one kind "
        f"{result['id_conflicts']}, review pairs {result['review_pairs']:,}, "
        f"candidate pairs {result['candidate_pairs']:,}"
    )
    print(
        f"people with a D-number and a later number {changes['persons']:,}: linked auto "
        f"{changes['linked']:,}, auto + review {reviewed['linked']:,}"
    )
    print("| blocking rule | pairs | new pairs | true pairs kept | completeness |\n|---|---|---|---|---|")
    for row in result["blocking"]:
        print(
            f"| {row['rule']} | {row['pairs']:,} | {row['new_pairs']:,} | {row['true_pairs_kept']:,} "
            f"| {row['completeness']:.5f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--error-rate", type=float, default=0.05)
    parser.add_argument("--auto-match", type=float, default=0.999)
    parser.add_argument("--review", type=float, default=0.5)
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.auto_match, args.review)))
        return
    results = []
    for records in args.records:
        result = run(records, args.seed, args.error_rate, args.auto_match, args.review)
        show(result)
        results.append(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
