"""The masking UDFs for Spark, a small Java Hive UDF built from source with the JDK.

A Python UDF cannot be registered through the Thrift server, and Spark's built-in `hmac()`
would need the key in the SQL text (and so in query history and logs). The Java classes
in `java/` read the key from the executor's environment instead and compute the same
lowercase hex HMAC-SHA256 as privacy/tokens.py, so tokens are byte-equal to DuckDB's.

The jar is compiled against the Hive and Hadoop jars that ship inside pyspark, on first
use (`mallcrm spark up`, `mallcrm spark udf-jar`), and named after a hash of its sources:
changing a class builds a new jar, an unchanged one is reused.
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
# The SQL functions it provides are registered by the dbt macro `register_pii_functions`
# (dbt_project/macros/privacy/register_pii_functions.sql), on every run.


class UdfBuildError(RuntimeError):
    """javac or jar failed, or no JDK is installed."""


def _sources() -> list[Path]:
    return sorted(JAVA_SOURCES.rglob("*.java"))


def sources_digest() -> str:
    digest = hashlib.sha256()
    for path in _sources():
        digest.update(path.relative_to(JAVA_SOURCES).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def build_udf_jar(settings: Settings, out_dir: Path) -> Path:
    """`<out_dir>/mallcrm-udf-<digest>.jar`, compiled unless it exists already."""
    jar = out_dir / f"mallcrm-udf-{sources_digest()}.jar"
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
            + [str(p) for p in _sources()]
        )
        staged = Path(tmp) / jar.name
        _run([str(jdk / "jar"), "cf", str(staged), "-C", str(classes), "."])
        shutil.move(staged, jar)  # same folder: a rename, so a killed build leaves no half jar
    return jar


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise UdfBuildError(f"{Path(argv[0]).name} failed ({done.returncode}):\n{done.stderr.strip()}")
