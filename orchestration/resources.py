"""The one resource every writing asset and op requires: the warehouse's write lock,
held for the whole run.

A Dagster run then refuses to start beside another writer (a CLI `mallcrm build`, a
bench), and a CLI command started during the run is refused with the run named as the
holder. The pipeline steps the assets call take the same lock again, re-entrantly.

Also here: the dbt resource as the dbt assets use it (DbtCliWithoutAdapter).
"""

from collections.abc import Sequence
from functools import cached_property

import dagster as dg
from dagster_dbt import DbtCliResource
from packaging import version

from mallcrm.core.lock import write_lock
from mallcrm.core.settings import Settings

WRITER = "warehouse_writer"


def warehouse_writer(settings: Settings) -> dg.ResourceDefinition:
    @dg.resource(description=f"Holds the write lock of {settings.warehouse} for the run (mallcrm.core.lock).")
    def _writer(context: dg.InitResourceContext):
        with write_lock(settings, f"dagster run {context.run_id}"):
            yield settings

    return _writer


class DbtCliWithoutAdapter(DbtCliResource):
    """dagster-dbt's DbtCliResource without the work this project does not use, about 3 s a run.

    Before each `dbt` child process, DbtCliResource.cli (dagster-dbt 0.29) builds a dbt
    adapter in Dagster's own process (`_initialize_dbt_core_adapter`: profile, project and
    the macro manifest), used only by `fetch_column_metadata` and `fetch_row_counts`,
    which these assets do not call; and it runs `dbt --version` as a child process to learn
    the version of the executable, which is the dbt-core installed beside dagster-dbt in
    this environment (pyproject.toml pins both). Both are skipped here; the dbt run itself
    is unchanged.
    """

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None

    @cached_property
    def _cli_version(self) -> version.Version:
        from dbt.version import __version__

        return version.parse(__version__)


def without_dbt_adapter(resource: DbtCliResource) -> DbtCliResource:
    """The same dbt resource (same fields) as a DbtCliWithoutAdapter."""
    if isinstance(resource, DbtCliWithoutAdapter):
        return resource
    fields = {name: getattr(resource, name) for name in DbtCliResource.model_fields}
    return DbtCliWithoutAdapter(**fields)
