{#- True when the text expression is a token: exactly 64 lowercase hex digits. -#}
{% macro pii_is_token(text) -%}
    {{ return(adapter.dispatch('pii_is_token', 'mallcrm')(text)) }}
{%- endmacro %}

{% macro default__pii_is_token(text) -%}
    regexp_like({{ text }}, '^[0-9a-f]{64}$')
{%- endmacro %}

{% macro duckdb__pii_is_token(text) -%}
    regexp_full_match({{ text }}, '[0-9a-f]{64}')
{%- endmacro %}
