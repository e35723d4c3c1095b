"""A real local Spark cluster to develop and test against: `mallcrm spark up|down`.

Four processes on 127.0.0.1, all from the pyspark distribution on PyPI and Debian's
Java 17: a standalone master, two workers, and the Spark Thrift (JDBC/ODBC) server, which
dbt reaches through `method: thrift` exactly as it would reach a production cluster. The
Hive metastore is an embedded Derby database and tables are Parquet files under
`<spark dir>/warehouse` (no Delta or Iceberg jars can be fetched here).

The masking key reaches the executors through a Spark properties file readable by its
owner only (`spark.executorEnv.MALLCRM_HMAC_KEY`), never a command line, SQL text or log;
`spark.redaction.regex` hides it in the Spark UI's environment page.

Starting is idempotent (a running cluster is left alone) and so is stopping; each process
runs in its own session, its id recorded under `<spark dir>/run/`, so `down` ends it and
every child it started (executors included).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from mallcrm.core.files import write_atomically
from mallcrm.core.settings import Settings, child_environment
from privacy.tokens import load_key
from spark.runtime import java_home, spark_home
from spark.udf import build_local_cluster_jar, build_udf_jar

MASTER_PORT_OFFSET = 1  # the master listens on the Thrift port + 1, its UI further up
WORKERS = 2
STARTUP_TIMEOUT_S = 180
# dbt issues hundreds of small statements: few shuffle partitions suit a 2-core machine
# (Spark's default of 200 makes every aggregate 200 tasks).
SHUFFLE_PARTITIONS = 4


class SparkClusterError(RuntimeError):
    """The local cluster could not be started (no Java, a port in use, a process died)."""


@dataclass(frozen=True)
class ClusterStatus:
    running: bool
    thrift: str
    processes: dict[str, int | None]

    def describe(self) -> str:
        state = "running" if self.running else "stopped"
        procs = ", ".join(f"{name} {pid or '-'}" for name, pid in self.processes.items())
        return f"Spark cluster {state}: Thrift server {self.thrift} ({procs})"


def _paths(settings: Settings) -> dict[str, Path]:
    root = settings.spark_path
    return {
        "root": root,
        "run": root / "run",
        "logs": root / "logs",
        "work": root / "work",
        "warehouse": root / "warehouse",
        "metastore": root / "metastore_db",
        "conf": root / "conf" / "spark-defaults.conf",
    }


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:  # a child of this process that has exited is reaped here, not counted as alive
        if os.waitpid(pid, os.WNOHANG)[0]:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def status(settings: Settings) -> ClusterStatus:
    paths = _paths(settings)
    names = ["master", *(f"worker{i}" for i in range(1, WORKERS + 1)), "thrift"]
    pids = {name: _read_pid(paths["run"] / f"{name}.pid") for name in names}
    live = {name: pid if _alive(pid) else None for name, pid in pids.items()}
    running = all(live.values()) and _port_open(settings.spark_host, settings.spark_port)
    return ClusterStatus(running, f"{settings.spark_host}:{settings.spark_port}", live)


def _write_properties(settings: Settings, paths: dict[str, Path], udf_jar: Path, local_jar: Path) -> None:
    """spark-defaults for the Thrift server's application: the key for the executors, the
    metastore and warehouse folders, and small-machine sizing. Owner-readable only."""
    key = load_key(settings)
    lines = {
        "spark.master": f"spark://127.0.0.1:{settings.spark_port + MASTER_PORT_OFFSET}",
        "spark.app.name": "mallcrm-thrift",
        "spark.jars": str(udf_jar),
        # The Thrift server resolves the permanent pii_* functions with the driver's class
        # loader, which does not see spark.jars: without this, CANNOT_LOAD_FUNCTION_CLASS.
        # ... and the Hive interface the pyspark distribution lacks (spark/java_local/).
        "spark.driver.extraClassPath": f"{udf_jar}:{local_jar}",
        "spark.sql.warehouse.dir": str(paths["warehouse"]),
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.shuffle.partitions": str(SHUFFLE_PARTITIONS),
        "spark.sql.adaptive.enabled": "true",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.memory": "2g",
        "spark.executor.memory": settings.spark_worker_memory,
        "spark.ui.enabled": "false",
        "spark.redaction.regex": "(?i)secret|password|token|access[.]?key|hmac",
        "spark.executorEnv.MALLCRM_HMAC_KEY": key.secret.decode("utf-8"),
        "spark.executorEnv.MALLCRM_HMAC_KEY_VERSION": key.version,
        "spark.executorEnv.MALLCRM_HMAC_KEY_IS_DEMO": "true" if key.is_demo else "false",
        "spark.executorEnv.TZ": "UTC",
        "spark.sql.session.timeZone": "UTC",
        # instants as Parquet's standard micros (readable by DuckDB and pyarrow), not INT96
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={paths['root']} -Duser.timezone=UTC",
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={paths['metastore']};create=true",
    }
    write_atomically(paths["conf"], "".join(f"{k} {v}\n" for k, v in lines.items()), mode=0o600)
    paths["conf"].chmod(0o600)


def _start(name: str, argv: list[str], paths: dict[str, Path], env: dict[str, str]) -> int:
    log = open(paths["logs"] / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
    )
    log.close()
    write_atomically(paths["run"] / f"{name}.pid", str(proc.pid), mode=0o644)
    return proc.pid


def _wait_for_port(host: str, port: int, pid: int, name: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _port_open(host, port):
            return
        if not _alive(pid):
            tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
            raise SparkClusterError(f"Spark {name} exited while starting; last lines of {log}:\n" + "\n".join(tail))
        time.sleep(0.5)
    raise SparkClusterError(f"Spark {name} did not open {host}:{port} within {timeout:.0f} s (see {log})")


def up(settings: Settings, timeout: float = STARTUP_TIMEOUT_S) -> ClusterStatus:
    """Start the local cluster unless it is running; returns when the Thrift server accepts
    connections."""
    current = status(settings)
    if current.running:
        return current
    down(settings)  # a partial cluster (one process died) is restarted whole
    paths = _paths(settings)
    for key in ("run", "logs", "work", "warehouse"):
        paths[key].mkdir(parents=True, exist_ok=True)
    if _port_open(settings.spark_host, settings.spark_port):
        raise SparkClusterError(f"port {settings.spark_port} is in use by another program (MALLCRM_SPARK_PORT)")
    udf_jar = build_udf_jar(settings, paths["root"])
    _write_properties(settings, paths, udf_jar, build_local_cluster_jar(settings, paths["root"]))
    home = spark_home()
    # The key reaches the executors through the properties file only, not the environment
    # (the master and workers never see it; the driver gets it below).
    env = {
        **{k: v for k, v in child_environment(settings).items() if not k.startswith("MALLCRM_HMAC")},
        "SPARK_HOME": str(home),
        "JAVA_HOME": str(java_home(settings)),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(paths["logs"]),
        "SPARK_WORKER_DIR": str(paths["work"]),
        "TZ": "UTC",
    }
    env.pop("PYSPARK_SUBMIT_ARGS", None)
    spark_class = str(home / "bin" / "spark-class")
    master_port = settings.spark_port + MASTER_PORT_OFFSET
    master = _start(
        "master",
        [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(master_port)]
        + ["--webui-port", str(master_port + 1)],
        paths,
        env,
    )
    _wait_for_port("127.0.0.1", master_port, master, "master", paths["logs"] / "master.log", timeout)
    for i in range(1, WORKERS + 1):
        _start(
            f"worker{i}",
            [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", "1"]
            + ["--memory", settings.spark_worker_memory, "--webui-port", str(master_port + 1 + i)]
            + ["--work-dir", str(paths["work"] / f"worker{i}"), f"spark://127.0.0.1:{master_port}"],
            paths,
            env,
        )
    # The driver (the Thrift server) reads the properties file too, and it needs the key:
    # Spark folds calls of the pii_* functions on constants while optimizing, on the driver
    # (pii_key_version() in every tokenized model, pii_hmac on literals in unit tests).
    key = load_key(settings)
    driver_env = {
        **env,
        "MALLCRM_HMAC_KEY": key.secret.decode("utf-8"),
        "MALLCRM_HMAC_KEY_VERSION": key.version,
        "MALLCRM_HMAC_KEY_IS_DEMO": "true" if key.is_demo else "false",
    }
    thrift = _start(
        "thrift",
        [str(home / "bin" / "spark-submit"), "--properties-file", str(paths["conf"])]
        + ["--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"]
        + ["--hiveconf", f"hive.server2.thrift.port={settings.spark_port}"]
        + ["--hiveconf", "hive.server2.thrift.bind.host=127.0.0.1", "spark-internal"],
        paths,
        driver_env,
    )
    _wait_for_port(
        settings.spark_host, settings.spark_port, thrift, "Thrift server", paths["logs"] / "thrift.log", timeout
    )
    return status(settings)


def down(settings: Settings, timeout: float = 30) -> ClusterStatus:
    """Stop every process `up` started (and their children), Thrift server first."""
    paths = _paths(settings)
    for name in ["thrift", *(f"worker{i}" for i in range(WORKERS, 0, -1)), "master"]:
        pidfile = paths["run"] / f"{name}.pid"
        pid = _read_pid(pidfile)
        if _alive(pid):
            _stop_group(pid, timeout)
        pidfile.unlink(missing_ok=True)
    return status(settings)


def _stop_group(pid: int, timeout: float) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    if _alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
