"""Running the project on Apache Spark: the local cluster, the masking UDF, the lake reader."""
