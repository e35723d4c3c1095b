-- The agreed Chinese 8-class labels (docs/marts_member.md), order R-F-M, high = beats the mean.
with

classes as (

    select 'HHH' as rfm_class_code, '重要价值' as expected_label
    union all select 'HLH', '重要发展'
    union all select 'LHH', '重要保持'
    union all select 'LLH', '重要挽留'
    union all select 'HHL', '一般价值'
    union all select 'HLL', '一般发展'
    union all select 'LHL', '一般保持'
    union all select 'LLL', '一般挽留'

),

checked as (

    select
        rfm_class_code,
        expected_label,
        {{ rfm_class_label('rfm_class_code') }} as actual_label
    from classes

)

select *
from checked
where actual_label is null or actual_label <> expected_label
