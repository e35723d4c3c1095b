{#-
    Keyed pseudonymization. `pii_token(column, pii_type)` is the lowercase hex
    HMAC-SHA256 of the normalized value under the secret key (MALLCRM_HMAC_KEY): the same
    mobile, e-mail or card number gives the same token in every table, so tokens join
    (POS member_mobile_token = member mobile_token), yet nobody without the key can
    recompute a token from a guessed value — an unkeyed sha256 of an 11-digit mobile
    is reversed by hashing all 10^10 candidates.

    The key never enters SQL: the UDF `pii_hmac` is registered on each connection by the
    dbt-duckdb plugin `privacy.dbt_plugin` (see profiles.yml). Other engines must
    register a UDF of the same name and contract (e.g. a Spark UDF) — the default
    implementation just calls it. `pii_normalize` (macros/privacy/pii_rules.sql) is generated
    from privacy/policy.yml `pii_normalization`, the rules privacy/tokens.py `normalize` applies.
-#}
{% macro pii_token(column, pii_type) -%}
    {{ return(adapter.dispatch('pii_token', 'mallcrm')(column, pii_type)) }}
{%- endmacro %}

{% macro default__pii_token(column, pii_type) -%}
    pii_hmac({{ pii_normalize(column, pii_type) }})
{%- endmacro %}

{% macro duckdb__pii_token(column, pii_type) -%}
    pii_hmac({{ pii_normalize(column, pii_type) }})
{%- endmacro %}
