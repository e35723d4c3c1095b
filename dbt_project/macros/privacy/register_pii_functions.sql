{#-
    Makes the keyed-hash functions the masked layer calls exist on the target engine;
    runs at the start of every dbt invocation (on-run-start in dbt_project.yml).

    DuckDB: nothing to do, the dbt-duckdb plugin `privacy.dbt_plugin` registers them on
    each connection. Spark: permanent functions in the `default` database over the Java
    Hive UDF of spark/java (built by `mallcrm spark up`). The key is read by the
    UDF from the executors' environment, never from SQL. On a cluster that does not load
    the jar at start, set var `spark_udf_jar` to its URL (e.g. s3://bucket/mallcrm-udf.jar)
    and the functions are created `using jar` it.
-#}
{% macro register_pii_functions() -%}
    {%- if execute -%}
        {%- do adapter.dispatch('register_pii_functions', 'mallcrm')() -%}
    {%- endif -%}
{%- endmacro %}

{% macro default__register_pii_functions() -%}
{%- endmacro %}

{% macro spark__register_pii_functions() -%}
    {%- set functions = {
        'pii_hmac': 'PiiHmac',
        'pii_key_version': 'PiiKeyVersion',
        'pii_key_is_demo': 'PiiKeyIsDemo',
        'pii_key_fingerprint': 'PiiKeyFingerprint',
    } -%}
    {%- for name, class in functions.items() -%}
        {%- set using = " using jar '" ~ var('spark_udf_jar') ~ "'" if var('spark_udf_jar') else "" -%}
        {%- do run_query(
            "create function if not exists default." ~ name ~ " as 'org.mallcrm.privacy." ~ class ~ "'" ~ using
        ) -%}
    {%- endfor -%}
{%- endmacro %}
