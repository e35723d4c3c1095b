-- The agreed R x FM -> segment grid (docs/marts_member.md), cell by cell: returns every
-- cell where the rfm_segment macro disagrees with the documented grid.
with

grid as (

    select 5 as r_score, 1 as fm_score, 'New Customers' as expected_segment
    union all select 5, 2, 'Potential Loyalist'
    union all select 5, 3, 'Potential Loyalist'
    union all select 5, 4, 'Champions'
    union all select 5, 5, 'Champions'
    union all select 4, 1, 'Promising'
    union all select 4, 2, 'Potential Loyalist'
    union all select 4, 3, 'Potential Loyalist'
    union all select 4, 4, 'Loyal'
    union all select 4, 5, 'Champions'
    union all select 3, 1, 'About To Sleep'
    union all select 3, 2, 'About To Sleep'
    union all select 3, 3, 'Need Attention'
    union all select 3, 4, 'Loyal'
    union all select 3, 5, 'Loyal'
    union all select 2, 1, 'Hibernating'
    union all select 2, 2, 'Hibernating'
    union all select 2, 3, 'At Risk'
    union all select 2, 4, 'At Risk'
    union all select 2, 5, 'Cannot Lose Them'
    union all select 1, 1, 'Lost'
    union all select 1, 2, 'Lost'
    union all select 1, 3, 'Hibernating'
    union all select 1, 4, 'At Risk'
    union all select 1, 5, 'Cannot Lose Them'

),

checked as (

    select
        r_score,
        fm_score,
        expected_segment,
        {{ rfm_segment('r_score', 'fm_score') }} as actual_segment
    from grid

)

select *
from checked
where actual_segment is null or actual_segment <> expected_segment
