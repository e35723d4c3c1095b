{#-
    The select list of a masked model, built from the staging model's column metadata
    in the dbt graph (the same tags a reviewer reads in the staging ymls):

      - a column without `meta.pii` passes through unchanged, in the yml's order;
      - a column with `meta.pii: true` is replaced by the columns named in its
        `meta.masked_columns` (output name -> method), e.g.
            mobile:  masked_columns: {mobile_token: token, mobile_masked: display_mask}
        methods: token | display_mask | scrub | generalize:birth_month |
                 generalize:age_band | generalize:is_minor | drop
      - a pii column with no `masked_columns` is an error (fail closed: nobody gets a
        personal column by forgetting to say how to mask it);
      - a column that is in the staging SQL but not in its yml is not selected (only
        documented columns flow on; the model's enforced contract catches the gap).

    Usage:  select {{ masked_columns('stg_membership__members') }}
            from {{ ref('stg_membership__members') }}
-#}
{% macro masked_columns(staging_model) -%}
    {%- if not execute -%}
        {{ return('*') }}
    {%- endif -%}
    {%- set node = privacy_graph_node(staging_model) -%}
    {%- set items = [] -%}
    {%- for column_name, column in node.columns.items() -%}
        {%- set meta = privacy_column_meta(column) -%}
        {%- if not meta.get('pii') -%}
            {%- do items.append(column_name) -%}
        {%- else -%}
            {%- set outputs = meta.get('masked_columns') -%}
            {%- if outputs is none -%}
                {{ exceptions.raise_compiler_error(
                    "Personal column " ~ staging_model ~ "." ~ column_name ~ " (pii_type "
                    ~ meta.get('pii_type') ~ ") has no meta.masked_columns: say how it is masked"
                    ~ " (or {" ~ column_name ~ ": drop}) in its staging yml.") }}
            {%- endif -%}
            {%- for output_name, method in outputs.items() -%}
                {%- if method != 'drop' -%}
                    {%- do items.append(
                        pii_mask_expression(column_name, method, meta.get('pii_type')) ~ " as " ~ output_name
                    ) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(items | join(",\n    ")) }}
{%- endmacro %}


{#- One masking method applied to one column. -#}
{% macro pii_mask_expression(column, method, pii_type) -%}
    {%- if method == 'token' -%}
        {{ pii_token(column, pii_type) }}
    {%- elif method == 'display_mask' and pii_type == 'mobile' -%}
        {{ mask_mobile(column) }}
    {%- elif method == 'display_mask' and pii_type == 'email' -%}
        {{ mask_email(column) }}
    {%- elif method == 'display_mask' and pii_type == 'name' -%}
        {{ mask_name(column) }}
    {%- elif method == 'scrub' -%}
        {{ scrub_free_text(column) }}
    {%- elif method == 'generalize:birth_month' -%}
        {{ birth_month(column) }}
    {%- elif method == 'generalize:age_band' -%}
        {{ age_band(column) }}
    {%- elif method == 'generalize:is_minor' -%}
        {{ is_minor(column) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "Unknown masking method '" ~ method ~ "' for " ~ column ~ " (pii_type " ~ pii_type ~ ")") }}
    {%- endif -%}
{%- endmacro %}


{% macro privacy_graph_node(model_name) -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.name == model_name -%}
            {{ return(node) }}
        {%- endif -%}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error("masked_columns: no model named " ~ model_name) }}
{%- endmacro %}


{#- Column meta may sit under `meta` or `config.meta` depending on the yml style. -#}
{% macro privacy_column_meta(column) -%}
    {%- set meta = {} -%}
    {%- do meta.update(column.get('meta') or {}) -%}
    {%- do meta.update((column.get('config') or {}).get('meta') or {}) -%}
    {{ return(meta) }}
{%- endmacro %}


{#- The select list of `relation` (a CTE over `staging_model`) with the free-text column
    `text_column` passed through pii_remove_known_name, so the writer's own name
    (`name_column`, joined in by the model) is gone before the text is scrubbed. -#}
{% macro columns_without_known_name(staging_model, relation, text_column, name_column) -%}
    {%- set columns = [] -%}
    {%- if execute -%}
        {%- for column in privacy_graph_node(staging_model).columns -%}
            {%- if column == text_column -%}
                {%- do columns.append(pii_remove_known_name(relation ~ '.' ~ column, name_column) ~ ' as ' ~ column) -%}
            {%- else -%}
                {%- do columns.append(relation ~ '.' ~ column) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {%- do columns.append(relation ~ '.*') -%}
    {%- endif -%}
    {{ columns | join(',\n        ') }}
{%- endmacro %}
