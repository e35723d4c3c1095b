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
    implementation just calls it. Normalization mirrors privacy/tokens.py `normalize`.
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


{#-
    The canonical form a token is computed from:
      mobile   digits with country code; an 11-digit CN mobile written without one
               (1[3-9]xxxxxxxxx, no leading '+') gets '86'
      email    trimmed, lower case
      card_no  digits only
      other    trimmed
    Empty results become NULL (no token for an empty value).
-#}
{% macro pii_normalize(column, pii_type) -%}
    {{ return(adapter.dispatch('pii_normalize', 'mallcrm')(column, pii_type)) }}
{%- endmacro %}

{% macro default__pii_normalize(column, pii_type) -%}
    {%- set trimmed = "trim(" ~ column ~ ")" -%}
    {%- if pii_type == 'mobile' -%}
        nullif(
            case
                when {{ trimmed }} not like '+%'
                    and regexp_replace({{ trimmed }}, '[^0-9]', '') like '1%'
                    and length(regexp_replace({{ trimmed }}, '[^0-9]', '')) = 11
                    and substring(regexp_replace({{ trimmed }}, '[^0-9]', ''), 2, 1) between '3' and '9'
                then '86' || regexp_replace({{ trimmed }}, '[^0-9]', '')
                else regexp_replace({{ trimmed }}, '[^0-9]', '')
            end, '')
    {%- elif pii_type == 'email' -%}
        nullif(lower({{ trimmed }}), '')
    {%- elif pii_type == 'card_no' -%}
        nullif(regexp_replace({{ trimmed }}, '[^0-9]', ''), '')
    {%- else -%}
        nullif({{ trimmed }}, '')
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__pii_normalize(column, pii_type) -%}
    {%- set trimmed = "trim(" ~ column ~ ")" -%}
    {%- set digits = "regexp_replace(" ~ trimmed ~ ", '[^0-9]', '', 'g')" -%}
    {%- if pii_type == 'mobile' -%}
        nullif(
            case
                when not starts_with({{ trimmed }}, '+')
                    and regexp_full_match({{ digits }}, '1[3-9][0-9]{9}')
                then '86' || {{ digits }}
                else {{ digits }}
            end, '')
    {%- elif pii_type == 'email' -%}
        nullif(lower({{ trimmed }}), '')
    {%- elif pii_type == 'card_no' -%}
        nullif({{ digits }}, '')
    {%- else -%}
        nullif({{ trimmed }}, '')
    {%- endif -%}
{%- endmacro %}
