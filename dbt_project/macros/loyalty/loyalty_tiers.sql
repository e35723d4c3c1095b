{#-
    The tier rules, stated once: var `loyalty_tier_min_spend_cny` holds the rolling
    12-month net spend from which each tier applies (upgrades at once, re-rated at the
    annual review on 1 January). Every model asks these macros, never the numbers.
-#}

{#- Tier a rolling 12-month spend qualifies for (the highest whose minimum it reaches). -#}
{% macro loyalty_tier_for_spend(spend) -%}
    {%- set tiers = loyalty_tiers_by_min_spend() -%}
    case
        {%- for tier, min_spend in tiers | reverse %}
        when {{ spend }} >= {{ min_spend }} then '{{ tier }}'
        {%- endfor %}
        else '{{ tiers[0][0] }}'
    end
{%- endmacro %}

{#- Minimum rolling 12-month spend (CNY) of a tier; NULL for an unknown tier. -#}
{% macro loyalty_tier_min_spend(tier) -%}
    case {{ tier }}
        {%- for name, min_spend in loyalty_tiers_by_min_spend() %}
        when '{{ name }}' then {{ min_spend }}
        {%- endfor %}
    end
{%- endmacro %}

{#- The tier above a tier; NULL for the top tier or an unknown one. -#}
{% macro loyalty_next_tier(tier) -%}
    {%- set tiers = loyalty_tiers_by_min_spend() -%}
    case {{ tier }}
        {%- for name, _ in tiers[:-1] %}
        when '{{ name }}' then '{{ tiers[loop.index][0] }}'
        {%- endfor %}
    end
{%- endmacro %}

{#- (tier, minimum spend) pairs of var `loyalty_tier_min_spend_cny`, lowest first. -#}
{% macro loyalty_tiers_by_min_spend() -%}
    {%- set rules = var('loyalty_tier_min_spend_cny') -%}
    {%- set pairs = [] -%}
    {%- for tier, min_spend in rules.items() | sort(attribute='1') -%}
        {%- do pairs.append((tier, min_spend)) -%}
    {%- endfor -%}
    {%- if not pairs or pairs[0][1] != 0 -%}
        {{ exceptions.raise_compiler_error(
            "var loyalty_tier_min_spend_cny must give the entry tier a minimum spend of 0, got " ~ rules
        ) }}
    {%- endif -%}
    {{ return(pairs) }}
{%- endmacro %}

{#- A member is a VIP from var `vip_threshold_cny` of rolling 12-month net spend. -#}
{% macro loyalty_is_vip(spend) -%}
    ({{ spend }} >= {{ var('vip_threshold_cny') }})
{%- endmacro %}
