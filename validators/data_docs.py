"""Great Expectations Data Docs of a gate run: GX's own HTML site, one page per validation.

The results come from the run workspace (written by the gate, sample values already
redacted). GX escapes what comes from the suites but not the sample values it shows, which
are legacy data: they are HTML-escaped here before GX renders them.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any

from validators.gate import quiet_gx

SITE = "enjournal_gate"


def build(
    results: list[tuple[str, dict[str, Any]]], folder: Path, run_name: str, run_time: dt.datetime
) -> Path:
    """Render (source, validation result) pairs into a Data Docs site in `folder`; its index page."""
    import great_expectations as gx
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    quiet_gx()
    context = gx.get_context(mode="ephemeral")
    context.add_data_docs_site(
        site_name=SITE,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folder)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    schema = ExpectationSuiteValidationResultSchema()
    run = RunIdentifier(run_name=run_name, run_time=run_time)
    for source, result in results:
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=result["suite_name"]),
            run_id=run,
            batch_identifier=source,
        )
        context.validation_results_store.set(key, schema.load(_escaped(result)))
    context.build_data_docs(site_names=[SITE])
    return folder / "index.html"


def _escaped(result: dict[str, Any]) -> dict[str, Any]:
    """The result with every sample value HTML-escaped (GX renders them as they are)."""
    return {
        **result,
        "results": [{**item, "result": _escape(item.get("result") or {})} for item in result["results"]],
    }


def _escape(value: Any) -> Any:
    if isinstance(value, str):
        return html.escape(value)
    if isinstance(value, dict):
        return {key: _escape(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_escape(item) for item in value]
    return value
