"""Quality against known truth: false merges holding two valid IDs, people whose number changed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from identity.evaluate import id_changes, id_conflicts, id_false_merges
from identity.prepare import prepare

D_NUMBER, FNR, OTHER_FNR = "54038510145", "14038520114", "14038520386"


def test_two_valid_ids_of_any_kinds_in_a_false_merge_count_and_a_changed_number_links() -> None:
    records = prepare(pd.DataFrame({"national_id": [D_NUMBER, FNR, D_NUMBER, OTHER_FNR, None]}))
    truth = np.array(["a", "a", "a", "b", "b"])
    together = np.array([0, 0, 0, 1, 1])
    assert id_false_merges(together, truth, records) == 0
    assert id_changes(together, truth, records) == {"persons": 1, "linked": 1}
    merged = np.array([0, 0, 1, 1, 2])
    assert id_false_merges(merged, truth, records) == 1, "a's D-number beside b's fødselsnummer"
    assert id_conflicts(merged, records) == 0, "not two numbers of one kind"
    assert id_changes(merged, truth, records) == {"persons": 1, "linked": 0}
