"""Startup: wall time and peak memory of `enjournal --help` and of the demo, each a fresh process.

    python bench/startup.py                 # --help five times, the demo once (1,000 persons)
    python bench/startup.py --repeat 10 --persons 200

`--help` is what a person waits for first; it must stay fast because the CLI imports
Prefect and Great Expectations only inside the commands that need them. The demo is the
README's first command end to end: synthesise a region, migrate it through the Prefect
flow (its ephemeral server included) into SQLite, print the books.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(command: list[str]) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of one fresh process, from its own rusage (`wait4`)."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            output.seek(0)
            tail = output.read().decode(errors="replace")[-3000:]
            raise RuntimeError(f"{' '.join(command)} exited {os.waitstatus_to_exitcode(status)}:\n{tail}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="How often to run --help.")
    parser.add_argument("--persons", type=int, default=1000, help="The demo's region.")
    args = parser.parse_args()
    cli = str(Path(sys.executable).with_name("enjournal"))
    runs = [timed([cli, "--help"]) for _ in range(args.repeat)]
    seconds = [s for s, _ in runs]
    print("| command | runs | median s | min s | max s | peak MiB |\n|---|---:|---:|---:|---:|---:|")
    print(
        f"| enjournal --help | {len(runs)} | {statistics.median(seconds):.2f} | {min(seconds):.2f} "
        f"| {max(seconds):.2f} | {max(m for _, m in runs):.0f} |"
    )
    with tempfile.TemporaryDirectory(prefix="enjournal-bench-") as folder:
        seconds, memory = timed([cli, "demo", "--persons", str(args.persons), "--workdir", folder])
    print(f"| enjournal demo --persons {args.persons} | 1 | {seconds:.1f} | | | {memory:.0f} |")


if __name__ == "__main__":
    main()
