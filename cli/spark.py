"""`mallcrm spark up|down|status`: the local Spark cluster to develop and test against.

With MALLCRM_ENGINE=spark every other command (ingest, build, check, ml, publish) runs on
the cluster at MALLCRM_SPARK_HOST:MALLCRM_SPARK_PORT; see docs/scale-out.md."""

from __future__ import annotations

import click

from cli.common import settings as load_cli_settings
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
