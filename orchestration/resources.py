"""The one resource every writing asset and op requires: the warehouse's write lock,
held for the whole run.

A Dagster run then refuses to start beside another writer (a CLI `mallcrm build`, a
bench), and a CLI command started during the run is refused with the run named as the
holder. The pipeline steps the assets call take the same lock again, re-entrantly.
"""

import dagster as dg

from mallcrm.core.lock import write_lock
from mallcrm.core.settings import Settings

WRITER = "warehouse_writer"


def warehouse_writer(settings: Settings) -> dg.ResourceDefinition:
    @dg.resource(description=f"Holds the write lock of {settings.warehouse} for the run (mallcrm.core.lock).")
    def _writer(context: dg.InitResourceContext):
        with write_lock(settings, f"dagster run {context.run_id}"):
            yield settings

    return _writer
