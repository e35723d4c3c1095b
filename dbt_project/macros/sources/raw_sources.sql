{#-
    The raw datasets (one per source system of ingestion/export_formats.yml), in a
    fixed order. Models that read the same table from every system (the ingestion
    bookkeeping) loop over this list.
-#}
{% macro raw_sources() -%}
    {{ return([
        'raw_pos',
        'raw_membership',
        'raw_feedback',
        'raw_sensors',
        'raw_marketing',
        'raw_reference',
        'raw_digital',
    ]) }}
{%- endmacro %}
