{#-
    Replace personal identifiers inside free text (survey comments, complaint texts) by
    placeholders, longest patterns first so a part of one is never left behind:
      e-mail addresses                         -> [邮箱]
      CN resident ID numbers (17 digits + 0-9/X) -> [身份证]
      card / bank numbers (16-19 digits)       -> [卡号]
      CN mobiles (optional +86, - or space)    -> [电话]
      other international numbers (+country)   -> [电话]
      landlines (0xx-xxxxxxxx)                 -> [电话]
    Names inside free text are not detected (no dictionary); the policy keeps scrubbed
    text away from roles that do not need it.
-#}
{% macro pii_text_patterns() -%}
    {{ return([
        ('[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}', '[邮箱]'),
        ('[1-9][0-9]{5}(19|20)[0-9]{2}[0-9]{4}[0-9]{3}[0-9Xx]', '[身份证]'),
        ('[0-9]{16,19}', '[卡号]'),
        ('(\\+?86[ -]?)?1[3-9][0-9][ -]?[0-9]{4}[ -]?[0-9]{4}', '[电话]'),
        ('\\+[0-9][0-9 -]{6,16}[0-9]', '[电话]'),
        ('0[1-9][0-9]{1,2}-[0-9]{7,8}', '[电话]'),
    ]) }}
{%- endmacro %}

{% macro scrub_free_text(column) -%}
    {{ return(adapter.dispatch('scrub_free_text', 'mallcrm')(column)) }}
{%- endmacro %}

{% macro default__scrub_free_text(column) -%}
    {%- set ns = namespace(expr=column) -%}
    {%- for pattern, placeholder in pii_text_patterns() -%}
        {%- set ns.expr = "regexp_replace(" ~ ns.expr ~ ", '" ~ pattern ~ "', '" ~ placeholder ~ "')" -%}
    {%- endfor -%}
    {{ ns.expr }}
{%- endmacro %}

{#- DuckDB replaces only the first match unless given the 'g' option. -#}
{% macro duckdb__scrub_free_text(column) -%}
    {%- set ns = namespace(expr=column) -%}
    {%- for pattern, placeholder in pii_text_patterns() -%}
        {%- set ns.expr = "regexp_replace(" ~ ns.expr ~ ", '" ~ pattern ~ "', '" ~ placeholder ~ "', 'g')" -%}
    {%- endfor -%}
    {{ ns.expr }}
{%- endmacro %}
