{#- Ordinal of a membership tier (basic 1 < silver 2 < gold 3 < diamond 4); NULL if unknown. -#}
{% macro tier_rank(column) -%}
    case {{ column }}
        when 'basic' then 1
        when 'silver' then 2
        when 'gold' then 3
        when 'diamond' then 4
    end
{%- endmacro %}
