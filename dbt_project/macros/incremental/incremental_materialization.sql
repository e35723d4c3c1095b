{#-
    The materialization of a delete+insert incremental model: `incremental`, except on
    Spark. Spark's Parquet tables (no Delta or Iceberg) support neither DELETE nor MERGE,
    and these models replace rows by a unique key (a receipt, a member, a snapshot day),
    not by whole partitions, so `insert_overwrite` cannot replace them; on Spark they are
    rebuilt whole as tables (is_incremental() is then false and the model reads its full
    inputs), which gives the same rows as DuckDB's incremental runs.
-#}
{% macro incremental_materialization() -%}
    {{ return(adapter.dispatch('incremental_materialization', 'mallcrm')()) }}
{%- endmacro %}

{% macro default__incremental_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro spark__incremental_materialization() -%}
    {{ return('table') }}
{%- endmacro %}

{#-
    The incremental config of a model that replaces whole days: every run rebuilds all
    rows of some values of `partition_column` (a business date, a snapshot date). DuckDB
    and the default: delete+insert on that column. Spark: insert_overwrite of the
    Parquet table partitioned by it, which replaces exactly the partitions (days) the run
    selects - the same rows as delete+insert. Use as `config(**incremental_by_day(...))`.
-#}
{% macro incremental_by_day(partition_column) -%}
    {{ return(adapter.dispatch('incremental_by_day', 'mallcrm')(partition_column)) }}
{%- endmacro %}

{% macro default__incremental_by_day(partition_column) -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': partition_column,
    }) }}
{%- endmacro %}

{% macro spark__incremental_by_day(partition_column) -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'insert_overwrite',
        'partition_by': [partition_column],
    }) }}
{%- endmacro %}
