{#-
    Generalized birth data: the birth date itself never leaves staging.
      birth_month  1-12 (birthday campaigns)
      age_band     '<14','14-17','18-24','25-34','35-44','45-54','55-64','65+'
      is_minor     under 14 — a PIPL art. 28 sensitive category: such members need a
                   guardian's consent and are excluded from marketing outputs
    Age is in completed years at var `privacy_as_of_date` (default: the build day).
-#}
{% macro privacy_as_of_date() -%}
    {%- set as_of = var('privacy_as_of_date') -%}
    {%- if as_of -%}cast('{{ as_of }}' as date){%- else -%}current_date{%- endif -%}
{%- endmacro %}

{% macro age_in_years(birth_date, as_of=none) -%}
    {%- set as_of = as_of or privacy_as_of_date() -%}
    cast(
        extract(year from {{ as_of }}) - extract(year from {{ birth_date }})
        - case
            when extract(month from {{ as_of }}) * 100 + extract(day from {{ as_of }})
                < extract(month from {{ birth_date }}) * 100 + extract(day from {{ birth_date }})
            then 1 else 0
          end
    as {{ dbt.type_int() }})
{%- endmacro %}

{% macro birth_month(birth_date) -%}
    cast(extract(month from {{ birth_date }}) as {{ dbt.type_int() }})
{%- endmacro %}

{% macro age_band(birth_date, as_of=none) -%}
    {{ return(adapter.dispatch('age_band', 'mallcrm')(birth_date, as_of)) }}
{%- endmacro %}

{% macro default__age_band(birth_date, as_of) -%}
    {%- set age = age_in_years(birth_date, as_of) -%}
    case
        when {{ birth_date }} is null then null
        when {{ age }} < 14 then '<14'
        when {{ age }} < 18 then '14-17'
        when {{ age }} < 25 then '18-24'
        when {{ age }} < 35 then '25-34'
        when {{ age }} < 45 then '35-44'
        when {{ age }} < 55 then '45-54'
        when {{ age }} < 65 then '55-64'
        else '65+'
    end
{%- endmacro %}

{% macro is_minor(birth_date, as_of=none) -%}
    case
        when {{ birth_date }} is null then null
        else {{ age_in_years(birth_date, as_of) }} < 14
    end
{%- endmacro %}
