{#-
    Display masks: what a service-desk screen may show to recognise a member without
    revealing the value. Not pseudonyms (they collide) and not joinable — use tokens
    for joins.
-#}

{#- 13812345678 -> 138****1234 ; +85251234567 -> +85****4567 -#}
{% macro mask_mobile(column) -%}
    {{ return(adapter.dispatch('mask_mobile', 'mallcrm')(column)) }}
{%- endmacro %}

{% macro default__mask_mobile(column) -%}
    case
        when {{ column }} is null then null
        when length(trim({{ column }})) >= 8
            then left(trim({{ column }}), 3) || '****' || right(trim({{ column }}), 4)
        else '****'
    end
{%- endmacro %}


{#- zhang.san@qq.com -> z***@qq.com (first character of the local part + domain) -#}
{% macro mask_email(column) -%}
    {{ return(adapter.dispatch('mask_email', 'mallcrm')(column)) }}
{%- endmacro %}

{% macro default__mask_email(column) -%}
    case
        when {{ column }} is null then null
        when position('@' in trim({{ column }})) > 1
            then left(trim({{ column }}), 1) || '***'
                || substring(trim({{ column }}), position('@' in trim({{ column }})))
        else '***'
    end
{%- endmacro %}


{#-
    Chinese names keep the surname: 张三丰 -> 张*, 欧阳娜娜 -> 欧阳* (common two-character
    surnames). Other names keep each word's initial: John Smith -> J* S*.
-#}
{% macro compound_surnames() -%}
    {{ return(['欧阳', '司马', '上官', '诸葛', '东方', '皇甫', '尉迟', '公孙', '慕容', '令狐', '司徒', '夏侯', '长孙', '宇文', '澹台', '端木']) }}
{%- endmacro %}

{% macro mask_name(column) -%}
    {{ return(adapter.dispatch('mask_name', 'mallcrm')(column)) }}
{%- endmacro %}

{% macro default__mask_name(column) -%}
    case
        when {{ column }} is null then null
        when length(trim({{ column }})) >= 3
            and left(trim({{ column }}), 2) in ('{{ compound_surnames() | join("', '") }}')
            then left(trim({{ column }}), 2) || '*'
        else left(trim({{ column }}), 1) || '*'
    end
{%- endmacro %}

{% macro duckdb__mask_name(column) -%}
    case
        when {{ column }} is null then null
        when not regexp_matches(trim({{ column }}), '^\p{Han}')
            then regexp_replace(trim({{ column }}), '(\S)\S*', '\1*', 'g')
        when length(trim({{ column }})) >= 3
            and left(trim({{ column }}), 2) in ('{{ compound_surnames() | join("', '") }}')
            then left(trim({{ column }}), 2) || '*'
        else left(trim({{ column }}), 1) || '*'
    end
{%- endmacro %}

{#- Spark: as DuckDB, with Java's Han script class and $1 back-reference (backslashes doubled: Spark literals unescape them). -#}
{% macro spark__mask_name(column) -%}
    case
        when {{ column }} is null then null
        when not regexp_like(trim({{ column }}), '^\\p{IsHan}')
            then regexp_replace(trim({{ column }}), '(\\S)\\S*', '$1*')
        when length(trim({{ column }})) >= 3
            and left(trim({{ column }}), 2) in ('{{ compound_surnames() | join("', '") }}')
            then left(trim({{ column }}), 2) || '*'
        else left(trim({{ column }}), 1) || '*'
    end
{%- endmacro %}
