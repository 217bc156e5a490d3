"""Only the person records of a synthetic region, fast, as the pipeline's person mapping
shapes them: for identity benchmarks at a million records, where writing and reading
every legacy file would measure the connectors instead.

Same seed, same records as `generate` writes (the same source functions draw them with
the same random streams); what the connectors and mapping specs do to them is
reproduced here: the EPR and the municipal export keep the middle name inside the given
name, the HL7 archive yields each patient's latest message and no address for a
confidential one, lab messages carry neither birth date nor sex nor address.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import coverage, epr, gp_journal, gp_messages, hl7_archive, municipal, population
from .context import Context, stream
from .errors import corrupt_persons
from .manifest import InjectionLog
from .practices import assign_practices
from .records import PersonRecords, snapshot

NAMESPACES = {"hospital-epr": "hospital", "hospital-hl7": "hospital"}
SEX = {"M": "male", "K": "female"}
GIVEN_HOLDS_MIDDLE = frozenset({"hospital-epr", "municipal-care", "gp-messages"})
NO_DEMOGRAPHICS = frozenset({"gp-messages"})
HIDES_CONFIDENTIAL_ADDRESS = frozenset({"hospital-hl7"})


def person_records(
    persons: int, seed: int = 42, error_rate: float = 0.05
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(mapped person records of every source, truth: source_system, source_person_id, person_id)."""
    people = population.build(stream(seed, "population"), persons)
    ctx = Context(
        seed=seed,
        error_rate=error_rate,
        people=people,
        coverage=coverage.assign(stream(seed, "coverage"), people),
        log=InjectionLog(),
    )
    practices = assign_practices(ctx)
    person, pas, _, _, (_, owner, time, _) = hl7_archive.events(ctx)
    messages = snapshot(hl7_archive.SOURCE, people, pas[owner], person[owner], time.astype("datetime64[D]"))
    corrupt_persons(ctx, messages)
    sources = [
        epr._patients(ctx),
        _latest(messages),
        municipal._users(ctx),
        gp_journal._patients(ctx, practices),
        gp_messages._records(ctx, gp_messages._Messages(ctx, practices)),
    ]
    frames = [_mapped(records) for records in sources]
    truth = pd.DataFrame(
        [(r.source, key, person_id) for r in sources for key, person_id in r.truth(people)],
        columns=["source_system", "source_person_id", "person_id"],
    )
    return pd.concat(frames, ignore_index=True), truth


def _latest(records: PersonRecords) -> PersonRecords:
    """One record per patient: the last message (messages are in time order)."""
    keys = pd.Series(records.key)
    return records.take(np.flatnonzero(~keys.duplicated(keep="last").to_numpy()))


def _mapped(records: PersonRecords) -> pd.DataFrame:
    source = records.source
    given = records.given.astype(str)
    middle = records.middle.astype(str)
    if source in GIVEN_HOLDS_MIDDLE:
        given = np.char.strip(np.char.add(np.char.add(given, " "), middle))
        middle = np.full(len(records), "")
    frame = pd.DataFrame(
        {
            "source_system": source,
            "source_person_id": records.key.astype(str),
            "source_record_id": records.key.astype(str),
            "namespace": NAMESPACES.get(source, source),
            "given_name": given,
            "middle_name": middle,
            "family_name": records.family.astype(str),
            "birth_date": pd.to_datetime(records.birth),
            "sex": pd.Series(records.sex).map(SEX),
            "national_id": records.nid.astype(str),
            "address_line": records.street.astype(str),
            "postcode": records.postnr.astype(str),
            "municipality_code": records.kommunenr.astype(str),
            "deceased_date": pd.to_datetime(records.death),
            "confidential_address": records.confidential.astype(bool),
        }
    )
    frame = frame.replace({"": None})
    if source in NO_DEMOGRAPHICS:
        frame[["birth_date", "deceased_date"]] = pd.NaT
        frame[["sex", "address_line", "postcode", "municipality_code"]] = None
    if source in HIDES_CONFIDENTIAL_ADDRESS:
        frame.loc[frame["confidential_address"], ["address_line", "postcode"]] = None
    return frame
