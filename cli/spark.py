"""`mallcrm spark up|down|status|views`: the local Spark cluster to develop and test against.

With MALLCRM_ENGINE=spark every other command (ingest, build, check, ml, publish) runs on
the cluster at MALLCRM_SPARK_HOST:MALLCRM_SPARK_PORT; see docs/scale-out.md."""

from __future__ import annotations

import click

from cli.common import settings as load_cli_settings
from cli.common import writing
from pipeline import steps
from spark import cluster
from spark.runtime import NoJavaError
from spark.udf import UdfBuildError


@click.group("spark")
def spark() -> None:
    """Start, stop or show the local Spark cluster (master, 2 workers, Thrift server on 127.0.0.1)."""


@spark.command("up")
def up() -> None:
    """Start the cluster (builds the masking UDF jar on first use); a running one is left alone."""
    settings = load_cli_settings()
    click.echo(f"starting Spark (master, {cluster.WORKERS} workers, Thrift server) under {settings.spark_path} ...")
    try:
        state = cluster.up(settings)
    except (cluster.SparkClusterError, UdfBuildError, NoJavaError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(state.describe())
    click.echo(
        "run the pipeline on it with MALLCRM_ENGINE=spark (docs/scale-out.md); stop it with `mallcrm spark down`"
    )


@spark.command("down")
def down() -> None:
    """Stop every process `mallcrm spark up` started; the metastore and tables stay."""
    click.echo(cluster.down(load_cli_settings()).describe())


@spark.command("status")
def status() -> None:
    """Whether the cluster is running, and its processes."""
    state = cluster.status(load_cli_settings())
    click.echo(state.describe())
    raise SystemExit(0 if state.running else 1)


@spark.command("views")
def views() -> None:
    """Make the relations built on Spark readable from the DuckDB warehouse again (every
    `mallcrm build` does it; run this after a dbt build made outside mallcrm)."""
    settings = load_cli_settings()
    if settings.engine != "spark":
        raise click.ClickException("MALLCRM_ENGINE is not spark: the warehouse's relations are DuckDB's own")
    with writing(settings, "spark views"):
        published = steps.spark_views(settings)
    click.echo(
        f"{len(published.readable)} Spark relations readable from {settings.warehouse} "
        f"({len(published.snapshots)} of them views copied to the lake), "
        f"{len(published.not_readable)} views on Spark only, {len(published.dropped)} views dropped"
    )
    for relation in published.replaced:
        click.echo(f"  replaced the DuckDB-built {relation}")
