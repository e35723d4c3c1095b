{#-
    RFM definitions shared by the current scores and the monthly history.
    See docs/marts_member.md for the grids these macros implement.
-#}

{#- Combined frequency-monetary score 1-5: the mean of F and M, halves rounded up. -#}
{% macro rfm_fm_score(f_score, m_score) -%}
    cast(floor(({{ f_score }} + {{ m_score }} + 1) / 2.0) as {{ dbt.type_int() }})
{%- endmacro %}

{#-
    Named segment (11) from the recency score (rows) and the combined FM score
    (columns):
            FM 1              FM 2                FM 3                FM 4        FM 5
    R 5     New Customers     Potential Loyalist  Potential Loyalist  Champions   Champions
    R 4     Promising         Potential Loyalist  Potential Loyalist  Loyal       Champions
    R 3     About To Sleep    About To Sleep      Need Attention      Loyal       Loyal
    R 2     Hibernating       Hibernating         At Risk             At Risk     Cannot Lose Them
    R 1     Lost              Lost                Hibernating         At Risk     Cannot Lose Them
-#}
{% macro rfm_segment(r_score, fm_score) -%}
    case
        when {{ r_score }} is null or {{ fm_score }} is null then null
        when {{ r_score }} = 5 and {{ fm_score }} >= 4 then 'Champions'
        when {{ r_score }} = 4 and {{ fm_score }} = 5 then 'Champions'
        when {{ r_score }} >= 3 and {{ fm_score }} >= 4 then 'Loyal'
        when {{ r_score }} = 5 and {{ fm_score }} = 1 then 'New Customers'
        when {{ r_score }} = 4 and {{ fm_score }} = 1 then 'Promising'
        when {{ r_score }} >= 4 then 'Potential Loyalist'
        when {{ r_score }} = 3 and {{ fm_score }} = 3 then 'Need Attention'
        when {{ r_score }} = 3 then 'About To Sleep'
        when {{ fm_score }} = 5 then 'Cannot Lose Them'
        when {{ fm_score }} = 4 then 'At Risk'
        when {{ r_score }} = 2 and {{ fm_score }} = 3 then 'At Risk'
        when {{ r_score }} = 2 then 'Hibernating'
        when {{ fm_score }} = 3 then 'Hibernating'
        else 'Lost'
    end
{%- endmacro %}


{#-
    Chinese 8-class RFM label (八类客户) from the three high/low flags, order R-F-M.
    High = beats the population mean (R: more recent than the mean recency).
-#}
{% macro rfm_class_label(class_code) -%}
    case {{ class_code }}
        when 'HHH' then '重要价值'
        when 'HLH' then '重要发展'
        when 'LHH' then '重要保持'
        when 'LLH' then '重要挽留'
        when 'HHL' then '一般价值'
        when 'HLL' then '一般发展'
        when 'LHL' then '一般保持'
        when 'LLL' then '一般挽留'
    end
{%- endmacro %}
