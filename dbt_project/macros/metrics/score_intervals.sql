{#- Wilson's score interval (95%: z = 1.96, z^2 = 3.8416) of a rate measured on n units:
    side 'low' or 'high'. It holds for small n and rates near 0 or 1, where the normal
    approximation does not. -#}
{% macro wilson_bound(rate, n, side) -%}
    (
        {{ rate }} + 3.8416 / (2 * {{ n }})
        {{ '-' if side == 'low' else '+' }} 1.96 * sqrt(
            {{ rate }} * (1 - {{ rate }}) / {{ n }}
            + 3.8416 / (4.0 * {{ n }} * {{ n }})
        )
    ) / (1 + 3.8416 / {{ n }})
{%- endmacro %}

{#- Newcombe's hybrid score interval (method 10) of a difference of two rates p1 - p2,
    from each rate's Wilson bounds: the distance below (side 'below') or above ('above')
    the difference. -#}
{% macro newcombe_margin(p1, p1_low, p1_high, p2, p2_low, p2_high, side) -%}
    {%- if side == 'below' -%}
    sqrt(
        ({{ p1 }} - {{ p1_low }}) * ({{ p1 }} - {{ p1_low }})
        + ({{ p2_high }} - {{ p2 }}) * ({{ p2_high }} - {{ p2 }})
    )
    {%- else -%}
    sqrt(
        ({{ p1_high }} - {{ p1 }}) * ({{ p1_high }} - {{ p1 }})
        + ({{ p2 }} - {{ p2_low }}) * ({{ p2 }} - {{ p2_low }})
    )
    {%- endif -%}
{%- endmacro %}
