"""Where Spark and Java are: the pyspark distribution and Debian's JDK 17."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyspark

from mallcrm.core.settings import Settings


class NoJavaError(RuntimeError):
    """No JDK: Spark cannot start and the masking UDF cannot be compiled."""


def spark_home() -> Path:
    """The pyspark package: it ships Spark's jars, `bin/spark-class` and `bin/spark-submit`."""
    return Path(pyspark.__file__).parent


def java_home(settings: Settings) -> Path:
    """JAVA_HOME (settings.java_home), else the JDK that `javac` on the PATH belongs to."""
    if settings.java_home:
        return settings.java_home
    javac = shutil.which("javac")
    if javac is None:
        raise NoJavaError(
            "no Java 17 JDK found (JAVA_HOME unset, no javac on PATH): apt-get install openjdk-17-jdk-headless"
        )
    return Path(javac).resolve().parents[1]
