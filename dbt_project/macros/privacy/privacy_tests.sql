{#- Generic tests of the masked layer. -#}

{#- Every non-null value is a 64-digit lowercase hex HMAC-SHA256. -#}
{% test is_pii_token(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and not regexp_full_match({{ column_name }}, '[0-9a-f]{64}')
{% endtest %}

{#- No value still contains a recognisable identifier (mobile, e-mail, ID, card number). -#}
{% test has_no_pii_patterns(model, column_name) %}
select {{ column_name }}
from {{ model }}
where regexp_matches({{ column_name }}, '1[3-9][0-9]{9}|[0-9]{16,}|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}')
{% endtest %}
