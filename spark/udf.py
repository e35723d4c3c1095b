"""The masking UDFs for Spark, a small Java Hive UDF built from source with the JDK.

A Python UDF cannot be registered through the Thrift server, and Spark's built-in `hmac()`
would need the key in the SQL text (and so in query history and logs). The Java classes
in `java/` read the key from the executor's environment instead and compute the same
lowercase hex HMAC-SHA256 as privacy/tokens.py, so tokens are byte-equal to DuckDB's.

The jar is compiled against the Hive and Hadoop jars that ship inside pyspark, on first
use (`mallcrm spark up`), and named after a hash of its sources: changing a class builds a
new jar, an unchanged one is reused.

`java_local/` is compiled the same way into a second jar that only the local cluster puts
on its Thrift server's class path: a Hive interface the pyspark distribution leaves out
(see its source). It is never meant for a production cluster, which has its own Hive.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from mallcrm.core.settings import Settings
from spark.runtime import java_home, spark_home

JAVA_SOURCES = Path(__file__).parent / "java"
LOCAL_CLUSTER_SOURCES = Path(__file__).parent / "java_local"
# The SQL functions it provides are registered by the dbt macro `register_pii_functions`
# (dbt_project/macros/privacy/register_pii_functions.sql), on every run.


class UdfBuildError(RuntimeError):
    """javac or jar failed, or no JDK is installed."""


def sources_digest(root: Path = JAVA_SOURCES) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.java")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def build_udf_jar(settings: Settings, out_dir: Path) -> Path:
    """`<out_dir>/mallcrm-udf-<digest>.jar`, compiled unless it exists already."""
    return build_jar(settings, out_dir, "mallcrm-udf", JAVA_SOURCES)


def build_local_cluster_jar(settings: Settings, out_dir: Path) -> Path:
    """`<out_dir>/mallcrm-local-hive-<digest>.jar`: what the local cluster's Hive lacks."""
    return build_jar(settings, out_dir, "mallcrm-local-hive", LOCAL_CLUSTER_SOURCES)


def build_jar(settings: Settings, out_dir: Path, name: str, root: Path) -> Path:
    """Compile the Java sources under `root` into `<out_dir>/<name>-<digest>.jar`, unless it exists."""
    jar = out_dir / f"{name}-{sources_digest(root)}.jar"
    if jar.exists():
        return jar
    jdk = java_home(settings) / "bin"
    if not (jdk / "javac").exists():
        raise UdfBuildError(f"no javac in {jdk}: apt-get install openjdk-17-jdk-headless")
    out_dir.mkdir(parents=True, exist_ok=True)
    classpath = str(spark_home() / "jars" / "*")
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        classes = Path(tmp) / "classes"
        _run(
            [str(jdk / "javac"), "--release", "17", "-nowarn", "-d", str(classes), "-cp", classpath]
            + [str(p) for p in sorted(root.rglob("*.java"))]
        )
        staged = Path(tmp) / jar.name
        _run([str(jdk / "jar"), "cf", str(staged), "-C", str(classes), "."])
        shutil.move(staged, jar)  # same folder: a rename, so a killed build leaves no half jar
    return jar


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise UdfBuildError(f"{Path(argv[0]).name} failed ({done.returncode}):\n{done.stderr.strip()}")
