"""Run a migration in this process and SIGKILL it just before a given write to the journal.

    python killed_run.py CONFIG TABLE N BATCH_ROWS [PREPARED_RUN]

dies right before the N-th INSERT/UPDATE/DELETE the run sends to the journal table TABLE
(rows sent by COPY reach the table through the UPDATE/INSERT that follows them), loading
in batches of BATCH_ROWS rows so a small region still has many transactions to die in.

With PREPARED_RUN (a finished run's workspace), the phases before `load` are taken from
a copy of it instead of being computed again: they write nothing but the run's own
workspace, so the run dies in its journal writes a few seconds sooner. Exits 3 if the
run ends without reaching that write.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import event

from journal import loader
from pipelines import runner
from pipelines.runner import Phase
from pipelines.stages import RunContext

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
PREPARED_PHASES = ("extract", "match", "map", "validate")


def main(config: str, table: str, occurrence: int, batch_rows: int, prepared: str | None = None) -> int:
    loader.BATCH_ROWS = batch_rows
    ctx = runner.new_context(Path(config))
    execute = runner.in_process
    if prepared:
        shutil.copytree(prepared, ctx.workspace.root, dirs_exist_ok=True)

        def execute(phase: Phase, ctx: RunContext, steps: list[tuple[str, ...]]) -> list[Any]:
            return [] if phase.name in PREPARED_PHASES else runner.in_process(phase, ctx, steps)

    target = re.compile(rf"\b{re.escape(table)}\b")
    seen = 0

    def before_write(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        nonlocal seen
        if WRITE.match(statement) and target.search(statement):
            seen += 1
            if seen == occurrence:
                os.kill(os.getpid(), signal.SIGKILL)

    event.listen(ctx.engine, "before_cursor_execute", before_write)
    runner.run(ctx, execute)
    print(f"the run ended after {seen} writes to {table}", file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), *sys.argv[5:]))
