"""Identity: enjournal beside Splink and recordlinkage on the same synthetic person records.

    python bench/identity.py                          # 10k, 100k and 1M records, all three linkers
    python bench/identity.py --records 100000 --linkers enjournal splink --json result.json

For each size the person records of a synthetic region (`synthetic.person_records`, the
same records `enjournal synth` writes, shaped as the person mappings shape them) are
written to Parquet once; then each linker reads them in a fresh process of its own, so
that its peak memory (`ru_maxrss`) is its own, and writes one cluster label per record.
Every linker's clusters are scored here by the same code against the generator's truth:
pairwise precision, recall and F1, and false merges (clusters holding records of two or
more true people). Seconds are the linking's alone (not generating, writing or reading).

enjournal links with the migration's settings (`identity.match`) and also reports its
auto + review band, ID conflicts and the blocking report; Splink (DuckDB) and
recordlinkage (ECM) get the model their documentation shows (see `splink_clusters` and
`recordlinkage_clusters`), on the same lightly cleaned columns (`peer_columns`).
enjournal also reports false merges holding two valid IDs of any kinds and how many
people with a D-number and a later fødselsnummer end in one cluster.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

# This file is bench/identity.py: as a script, its folder would shadow the identity package.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from identity.evaluate import false_merges, pair_metrics  # noqa: E402

RECORDS_PER_PERSON = 2.32
"""Person records per true person in a synthetic region at the default error rate."""
LINKERS = ("enjournal", "splink", "recordlinkage")
SPLINK_THRESHOLD = 0.95
"""Splink's documented clustering threshold; its clusters at enjournal's auto-match threshold too."""

Labelled = tuple[dict[str, np.ndarray], dict[str, object]]
"""A linker's clusterings by name (one label per record, in record order) and its other figures."""


def peer_columns(raw: pd.DataFrame) -> pd.DataFrame:
    """The columns a Splink or recordlinkage user would compare, lightly cleaned (upper case, blanks
    as missing, dates as ISO text, ID digits only): the peers get the same input, and no more
    domain knowledge than their documentation's examples use."""

    def text(column: str) -> pd.Series:
        values = raw[column].astype("string").str.strip().str.upper()
        return values.mask(values == "")

    given = text("given_name")
    return pd.DataFrame(
        {
            "unique_id": np.arange(len(raw)),
            "first_name": given.str.split(" ", n=1).str[0],
            "surname": text("family_name"),
            "dob": pd.to_datetime(raw["birth_date"]).dt.strftime("%Y-%m-%d").astype("string"),
            "sex": text("sex"),
            "national_id": text("national_id").str.replace(r"\D", "", regex=True).replace("", pd.NA),
            "postcode": text("postcode"),
            "address": text("address_line"),
        }
    ).astype({"unique_id": "int64"})


def enjournal_clusters(raw: pd.DataFrame, folder: Path, args: argparse.Namespace) -> Labelled:
    """enjournal's auto-match clusters, plus what only it reports (review band, ID conflicts, blocking)."""
    from identity.cluster import components
    from identity.evaluate import blocking_completeness, id_changes, id_conflicts, id_false_merges
    from identity.match import Thresholds, match, prepare

    started = time.perf_counter()
    persons = prepare(raw)
    matches = match(persons, Thresholds(args.auto_match, args.review))
    seconds = time.perf_counter() - started
    truth = _truth(folder)
    pairs = matches.linkage.pairs
    with_review = components(len(persons), pairs["left"].to_numpy(), pairs["right"].to_numpy())
    blocking = blocking_completeness(persons, matches.linkage.candidates, matches.spec.blocking, truth)
    auto = matches.records["cluster"].to_numpy()
    return {"enjournal": auto}, {
        "seconds": seconds,
        "auto_and_review": pair_metrics(with_review, truth),
        "id_conflicts": id_conflicts(auto, persons),
        "id_false_merges": id_false_merges(auto, truth, persons),
        "id_changes": id_changes(auto, truth, persons),
        "id_changes_with_review": id_changes(with_review, truth, persons),
        "review_pairs": len(matches.review),
        "candidate_pairs": len(matches.linkage.candidates),
        "blocking": blocking.replace({np.nan: None}).to_dict("records"),
    }


def splink_clusters(raw: pd.DataFrame, folder: Path, args: argparse.Namespace) -> Labelled:
    """Splink 5 on DuckDB, as its tutorials build a person model: name, date-of-birth and ID
    comparisons from `comparison_library` (term-frequency adjusted names and postcode), the prior
    from deterministic rules, u from random pairs, m by EM on two blocking rules, then predict and
    cluster. Postcodes are Norwegian four-digit numbers, so ExactMatch, not the UK PostcodeComparison."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    frame = peer_columns(raw)
    started = time.perf_counter()
    settings = SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[
            block_on("national_id"),
            block_on("first_name", "surname"),
            block_on("surname", "dob"),
            block_on("first_name", "dob"),
            block_on("postcode", "surname"),
        ],
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.LevenshteinAtThresholds("national_id", [1, 2]),
            cl.ExactMatch("sex"),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("address", [0.95, 0.88]),
        ],
    )
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(frame), settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("national_id"), block_on("first_name", "surname", "dob")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("first_name", "surname"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, SPLINK_THRESHOLD)
    labels = _labels(clusters.as_pandas_dataframe(), len(frame))
    seconds = time.perf_counter() - started
    strict = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, args.auto_match)
    strict_labels = _labels(strict.as_pandas_dataframe(), len(frame))
    return {"splink": labels, f"splink (at {args.auto_match})": strict_labels}, {
        "seconds": seconds,
        "predicted_pairs": int(predictions.as_duckdbpyrelation().count("*").fetchall()[0][0]),
    }


def recordlinkage_clusters(raw: pd.DataFrame, folder: Path, args: argparse.Namespace) -> Labelled:
    """recordlinkage as its guide links persons: the union of blocks on a few keys, binary
    comparisons (Jaro-Winkler on names and address, Levenshtein on the ID, exact on the rest), the
    unsupervised ECM classifier; matched pairs become clusters by connected components."""
    import recordlinkage

    from identity.cluster import components

    frame = peer_columns(raw).set_index("unique_id")
    started = time.perf_counter()
    indexer = recordlinkage.Index()
    for keys in (["national_id"], ["first_name", "surname"], ["surname", "dob"], ["first_name", "dob"]):
        indexer.block(keys)
    candidates = indexer.index(frame)
    compare = recordlinkage.Compare()
    compare.string("first_name", "first_name", method="jarowinkler", threshold=0.9, label="first_name")
    compare.string("surname", "surname", method="jarowinkler", threshold=0.9, label="surname")
    compare.exact("dob", "dob", label="dob")
    compare.string("national_id", "national_id", method="levenshtein", threshold=0.85, label="national_id")
    compare.exact("sex", "sex", label="sex")
    compare.exact("postcode", "postcode", label="postcode")
    compare.string("address", "address", method="jarowinkler", threshold=0.9, label="address")
    features = compare.compute(candidates, frame)
    matches = recordlinkage.ECMClassifier(binarize=None).fit_predict(features)
    left, right = matches.get_level_values(0).to_numpy(), matches.get_level_values(1).to_numpy()
    labels = components(len(frame), left, right)
    seconds = time.perf_counter() - started
    return {"recordlinkage": labels}, {"seconds": seconds, "candidate_pairs": len(candidates)}


CHILDREN: dict[str, Callable[[pd.DataFrame, Path, argparse.Namespace], Labelled]] = {
    "enjournal": enjournal_clusters,
    "splink": splink_clusters,
    "recordlinkage": recordlinkage_clusters,
}


def _labels(clusters: pd.DataFrame, count: int) -> np.ndarray:
    """Splink's cluster table as one integer label per record, in record order."""
    labels = np.full(count, -1, dtype=np.int64)
    labels[clusters["unique_id"].to_numpy()] = pd.factorize(clusters["cluster_id"])[0]
    return labels


def _truth(folder: Path) -> np.ndarray:
    """The true person of each record, in record order."""
    records = pd.read_parquet(folder / "records.parquet", columns=["source_system", "source_person_id"])
    truth = pd.read_parquet(folder / "truth.parquet")
    return records.merge(truth, on=["source_system", "source_person_id"], how="left")["person_id"].to_numpy()


def child(linker: str, folder: Path, args: argparse.Namespace) -> dict[str, object]:
    """Link the records in this (fresh) process with one linker; its clusters go to a file."""
    raw = pd.read_parquet(folder / "records.parquet")
    labelled, extra = CHILDREN[linker](raw, folder, args)
    for number, labels in enumerate(labelled.values()):
        np.save(folder / f"clusters-{linker}-{number}.npy", labels)
    extra["clusterings"] = list(labelled)
    extra["peak_memory_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return extra


def score(linker: str, labels: np.ndarray, truth: np.ndarray, extra: dict) -> dict[str, object]:
    """The same quality figures for every linker."""
    metrics = pair_metrics(labels, truth)
    return {
        "linker": linker,
        "precision": metrics["precision"],
        "recall": metrics["recall"],
        "f1": metrics["f1"],
        "false_merges": false_merges(labels, truth),
        "seconds": round(extra["seconds"], 1),
        "peak_memory_gib": round(extra["peak_memory_gib"], 2),
    }


def run(records: int, linkers: list[str], args: argparse.Namespace) -> dict[str, object]:
    """Draw one region's person records and link them with every linker in turn."""
    from synthetic.person_records import person_records

    persons = max(1, round(records / RECORDS_PER_PERSON))
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        frame, truth = person_records(persons, seed=args.seed, error_rate=args.error_rate)
        frame.to_parquet(folder / "records.parquet")
        truth.to_parquet(folder / "truth.parquet")
        del frame, truth
        true_person = _truth(folder)
        result: dict[str, object] = {
            "records": len(true_person),
            "true_persons": int(pd.Series(true_person).nunique()),
            "linkers": [],
        }
        for linker in linkers:
            command = [sys.executable, __file__, "--child", linker, str(folder)]
            command += ["--auto-match", str(args.auto_match), "--review", str(args.review)]
            extra = json.loads(subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout)
            for number, name in enumerate(extra.pop("clusterings")):
                labels = np.load(folder / f"clusters-{linker}-{number}.npy")
                row = score(name, labels, true_person, extra)
                result["linkers"].append(row)
                print(_line(result["records"], row), flush=True)
            result[linker] = {k: v for k, v in extra.items() if k not in ("seconds", "peak_memory_gib")}
    return result


def _line(records: int, row: dict[str, object]) -> str:
    return (
        f"| {records:,} | {row['linker']} | {row['precision']:.5f} | {row['recall']:.5f} | {row['f1']:.5f} "
        f"| {row['false_merges']:,} | {row['seconds']} | {row['peak_memory_gib']} GiB |"
    )


def show(result: dict[str, object]) -> None:
    """enjournal's own detail for one size: auto + review band and the blocking report."""
    detail = result.get("enjournal")
    if not detail:
        return
    both = detail["auto_and_review"]
    changes, reviewed = detail["id_changes"], detail["id_changes_with_review"]
    print(
        f"\nenjournal at {result['records']:,} records: auto + review precision {both['precision']:.5f}, "
        f"recall {both['recall']:.5f}; false merges holding two valid IDs of any kinds "
        f"{detail['id_false_merges']}, clusters with two valid IDs of one kind {detail['id_conflicts']}, "
        f"review pairs {detail['review_pairs']:,}, candidate pairs {detail['candidate_pairs']:,}"
    )
    print(
        f"people with a D-number and a later number {changes['persons']:,}: linked auto "
        f"{changes['linked']:,}, auto + review {reviewed['linked']:,}"
    )
    print("| blocking rule | pairs | new pairs | true pairs kept | completeness |\n|---|---|---|---|---|")
    for row in detail["blocking"]:
        print(
            f"| {row['rule']} | {row['pairs']:,} | {row['new_pairs']:,} | {row['true_pairs_kept']:,} "
            f"| {row['completeness']:.5f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--linkers", nargs="+", choices=LINKERS, default=list(LINKERS))
    parser.add_argument(
        "--recordlinkage-max",
        type=int,
        default=100_000,
        help="Skip recordlinkage above this many records: at 1M it held 11 GiB and had not finished "
        "after 37 minutes (bench/README.md).",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--error-rate", type=float, default=0.05)
    parser.add_argument("--auto-match", type=float, default=0.999)
    parser.add_argument("--review", type=float, default=0.5)
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        linker, folder = args.child
        print(json.dumps(child(linker, Path(folder), args)))
        return
    print("| person records | linker | precision | recall | F1 | false merges | seconds | peak memory |")
    print("|---|---|---|---|---|---|---|---|")
    results = []
    for records in args.records:
        linkers = [n for n in args.linkers if n != "recordlinkage" or records <= args.recordlinkage_max]
        results.append(run(records, linkers, args))
    for result in results:
        show(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
