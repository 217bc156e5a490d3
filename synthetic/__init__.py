"""Synthetic legacy data of a small Norwegian region, with ground truth and planted
errors: `generate(out, persons, seed, error_rate)` writes a hospital EPR (SQLite), an
HL7 v2 archive, a municipal care CSV export, GP journal exports and archived KITH lab
messages, plus truth.csv, persons.csv and manifest.json.
"""

from .generate import generate
from .manifest import InjectedError, Manifest

__all__ = ["InjectedError", "Manifest", "generate"]
