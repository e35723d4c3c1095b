{#-
    Tail probabilities of the campaign significance tests, for engines where the Python
    model int_experience__campaign_significance cannot run (dbt-spark runs Python models
    on Databricks only). SQL has no normal, Student t or chi-square distribution function;
    Spark reaches commons-math3 (on every Spark classpath) through reflect(), whose special
    functions are the same tails scipy.special computes (to ~1e-14 relative); reflect()
    cannot pass a NULL to a double parameter, so NULL in is NULL out here. Other engines
    run the Python model: their default__ fails when it is executed (the Spark model is
    still parsed, disabled, on every engine).
-#}

{% macro p_value_not_available(name) -%}
    {%- if execute -%}
        {{ exceptions.raise_compiler_error(name ~ ": no implementation on " ~ target.type ~ " (it runs the Python model int_experience__campaign_significance)") }}
    {%- endif -%}
    null
{%- endmacro %}

{#- Two-sided p of a standard normal statistic z: 2 * Phi(-|z|) = erfc(|z| / sqrt(2)). -#}
{% macro normal_two_sided_p_value(z) -%}
    {{ return(adapter.dispatch('normal_two_sided_p_value', 'mallcrm')(z)) }}
{%- endmacro %}

{% macro default__normal_two_sided_p_value(z) -%}
    {{ p_value_not_available('normal_two_sided_p_value') }}
{%- endmacro %}

{% macro spark__normal_two_sided_p_value(z) -%}
    case when {{ z }} is not null then
        cast(reflect('org.apache.commons.math3.special.Erf', 'erfc', cast(abs({{ z }}) / sqrt(2.0) as double)) as double)
    end
{%- endmacro %}

{#- Two-sided p of a Student t statistic with df degrees of freedom: I_{df/(df+t^2)}(df/2, 1/2). -#}
{% macro student_t_two_sided_p_value(t, df) -%}
    {{ return(adapter.dispatch('student_t_two_sided_p_value', 'mallcrm')(t, df)) }}
{%- endmacro %}

{% macro default__student_t_two_sided_p_value(t, df) -%}
    {{ p_value_not_available('student_t_two_sided_p_value') }}
{%- endmacro %}

{% macro spark__student_t_two_sided_p_value(t, df) -%}
    case when {{ t }} is not null and {{ df }} is not null then
        cast(reflect(
            'org.apache.commons.math3.special.Beta', 'regularizedBeta',
            cast({{ df }} / ({{ df }} + {{ t }} * {{ t }}) as double), cast({{ df }} / 2.0 as double), cast(0.5 as double)
        ) as double)
    end
{%- endmacro %}

{#- Upper tail of a chi-square statistic with 1 degree of freedom: erfc(sqrt(x / 2)). -#}
{% macro chi_square_1df_p_value(x) -%}
    {{ return(adapter.dispatch('chi_square_1df_p_value', 'mallcrm')(x)) }}
{%- endmacro %}

{% macro default__chi_square_1df_p_value(x) -%}
    {{ p_value_not_available('chi_square_1df_p_value') }}
{%- endmacro %}

{% macro spark__chi_square_1df_p_value(x) -%}
    case when {{ x }} is not null then
        cast(reflect('org.apache.commons.math3.special.Erf', 'erfc', cast(sqrt({{ x }} / 2.0) as double)) as double)
    end
{%- endmacro %}
