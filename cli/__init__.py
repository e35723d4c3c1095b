"""`mallcrm`: the command line of the warehouse. Every sub-command lives in this package
and calls the pipeline steps (pipeline.steps); exit codes are in cli.exit_codes."""

from __future__ import annotations

import click

from cli import (
    audiences,
    bench,
    dashboard,
    experiments,
    ml,
    pipeline_commands,
    postgres,
    privacy,
    quality,
    serving,
    spark,
)
from cli.common import NoWarehouseError
from mallcrm import __version__
from mallcrm.core.warehouse import WarehouseMissing


class UnexpectedError(click.ClickException):
    exit_code = 1


class MallcrmGroup(click.Group):
    """The one place errors become sentences: a missing warehouse exits 66, anything
    unexpected exits 1 with its type and message; `--debug` shows the traceback instead."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except WarehouseMissing as error:
            raise NoWarehouseError(str(error)) from None
        except Exception as error:
            if ctx.params.get("debug"):
                raise
            lines = str(error).strip().splitlines() or [""]
            message = lines[0][:300] + (" ..." if len(lines) > 1 or len(lines[0]) > 300 else "")
            raise UnexpectedError(
                f"{type(error).__name__}: {message} (run again with `mallcrm --debug ...` for the traceback)"
            ) from None


@click.group(cls=MallcrmGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="mallcrm")
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error instead of one sentence.")
def main(debug: bool) -> None:
    """Mall CRM warehouse: a mall's daily exports -> trusted, privacy-safe marts.

    Exit codes: 0 done, 1 a failure was found (or an unexpected error), 2 bad command
    line, 3 input refused, 4 model not promoted, 66 no warehouse yet, 74 warehouse not
    writable, 75 warehouse busy."""


for command in (
    *pipeline_commands.COMMANDS,
    ml.ml,
    quality.check,
    quality.doctor,
    privacy.privacy,
    privacy.compliance_report,
    dashboard.dashboard,
    bench.bench,
    spark.spark,
    audiences.audiences,
    postgres.postgres,
    serving.publish_postgres,
    experiments.experiments,
):
    main.add_command(command)
