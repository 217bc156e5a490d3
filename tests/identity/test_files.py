"""`enjournal match-files` on data the engine was never tuned for: English names, US-style
identifiers and postcodes, birth dates as YYYYMMDD in one file and ISO in the other."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from identity.files import RoleError, parse_roles
from pipelines.cli import EXIT_USAGE, app

FIRST = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Nancy",
    "Matthew",
    "Lisa",
    "Anthony",
    "Betty",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
]
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
]
ROLES = "given_name=first,family_name=last,birth_date=dob,national_id=ssn,postcode=zip,address=street,record_id=id"


def _typo(text: str, rnd: random.Random) -> str:
    position = rnd.randrange(1, len(text))
    return text[:position] + rnd.choice("abcdefghijklmnopqrstuvwxyz") + text[position + 1 :]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, set[tuple[str, str]]]:
    rnd = random.Random(5)
    people = []
    for i in range(400):
        born = pd.Timestamp("1940-01-01") + pd.Timedelta(days=rnd.randrange(0, 60 * 365))
        people.append(
            {
                "id": f"A{i:04d}",
                "first": rnd.choice(FIRST),
                "last": rnd.choice(LAST),
                "dob": born,
                "ssn": f"{rnd.randrange(10**8, 10**9)}",
                "zip": f"{rnd.randrange(10000, 99999)}",
                "street": f"{rnd.randrange(1, 999)} {rnd.choice(LAST)} St",
            }
        )
    second, truth = [], set()
    for i, person in enumerate(rnd.sample(people, 200)):
        copy = dict(person, id=f"B{i:04d}")
        draw = rnd.random()
        if draw < 0.25:
            copy["last"] = _typo(copy["last"], rnd)
        elif draw < 0.45:
            digits = list(copy["ssn"])
            digits[3] = str((int(digits[3]) + 1) % 10)
            copy["ssn"] = "".join(digits)
        elif draw < 0.6:
            copy["ssn"] = ""
        elif draw < 0.7:
            copy["street"], copy["zip"] = "", ""
        second.append(copy)
        truth.add((person["id"], copy["id"]))
    folder = tmp_path_factory.mktemp("files")
    first = pd.DataFrame(people).assign(dob=lambda f: f["dob"].dt.strftime("%Y-%m-%d"))
    later = pd.DataFrame(second).assign(dob=lambda f: f["dob"].dt.strftime("%Y%m%d"))
    first.to_csv(folder / "a.csv", index=False)
    later.to_csv(folder / "b.csv", sep=";", index=False)
    return folder / "a.csv", folder / "b.csv", truth


def test_linking_two_files_finds_the_same_people_without_labels(files, tmp_path: Path) -> None:
    first, second, truth = files
    result = CliRunner().invoke(
        app, ["match-files", str(first), str(second), "--roles", ROLES, "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    links = pd.read_csv(tmp_path / "links.csv", dtype={"record_id_l": str, "record_id_r": str})
    assert list(links.columns) == ["record_id_l", "record_id_r", "match_weight", "match_probability", "band"]
    auto = set(
        zip(*(links.loc[links["band"] == "auto", c] for c in ("record_id_l", "record_id_r")), strict=True)
    )
    assert len(auto & truth) / len(auto) >= 0.99, "precision"
    assert len(auto & truth) / len(truth) >= 0.95, "recall"
    assert all(left.startswith("A") and right.startswith("B") for left, right in auto)
    clusters = pd.read_csv(tmp_path / "clusters.csv", dtype=str)
    assert {"record_id", "cluster_id"} <= set(clusters.columns) and len(clusters) == 600
    same = clusters.set_index("record_id")["cluster_id"]
    assert sum(same[a] == same[b] for a, b in truth) / len(truth) >= 0.95


def test_deduplicating_one_file_with_only_some_roles(files, tmp_path: Path) -> None:
    first, second, truth = files
    both = pd.concat([pd.read_csv(first, dtype=str), pd.read_csv(second, dtype=str, sep=";")])
    both.to_csv(tmp_path / "all.csv", index=False)
    roles = "given_name=first,family_name=last,birth_date=dob,record_id=id"
    result = CliRunner().invoke(
        app, ["match-files", str(tmp_path / "all.csv"), "--roles", roles, "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    clusters = pd.read_csv(tmp_path / "out" / "clusters.csv", dtype=str).set_index("record_id")["cluster_id"]
    found = sum(clusters[a] == clusters[b] for a, b in truth) / len(truth)
    assert found >= 0.7, "names and birth dates alone still find most duplicates"
    sizes = clusters.value_counts()
    assert sizes.max() <= 3, "common names alone must not pile people together"


def test_bad_roles_exit_2_and_say_why(files, tmp_path: Path) -> None:
    first, _, _ = files
    result = CliRunner().invoke(
        app, ["match-files", str(first), "--roles", "given_name=nope", "--out", str(tmp_path)]
    )
    assert result.exit_code == EXIT_USAGE and "nope" in result.output
    with pytest.raises(RoleError, match="unknown role"):
        parse_roles("shoe_size=x")
