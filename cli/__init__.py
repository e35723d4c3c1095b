"""`mallcrm`: the command line of the warehouse. Every sub-command lives in this package
and calls the pipeline steps (pipeline.steps); exit codes are in cli.exit_codes."""

from __future__ import annotations

import click

from cli import audiences, bench, dashboard, ml, pipeline_commands, postgres, privacy, quality, spark
from mallcrm import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="mallcrm")
def main() -> None:
    """Mall CRM warehouse: a mall's daily exports -> trusted, privacy-safe marts.

    Exit codes: 0 done, 1 a failure was found, 2 bad command line, 3 input refused,
    4 model not promoted, 74 warehouse not writable, 75 warehouse busy."""


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
):
    main.add_command(command)
