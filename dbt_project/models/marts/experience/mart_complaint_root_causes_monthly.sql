{#-
    Complaint root causes (投诉根因) per month and store category: complaints per root
    cause, their share of the group's complaints and the three terms found in most of
    them. The root causes come from the source ml_scores.complaint_root_causes (the
    pipeline step complaint_root_causes: jieba terms of the scrubbed description, keyword
    table ml/complaint_root_causes.yml); complaints written after its last run are not
    counted until it runs again. Complaints about no store (parking, facilities) are the
    store category `mall`; a store missing from dim_store is `unknown`.
-#}

with

root_causes as (

    select * from {{ source_or_empty('ml_scores', 'complaint_root_causes') }}

),

complaints as (

    select * from {{ ref('fct_complaints') }}

),

stores as (

    select * from {{ ref('dim_store') }}

),

complaint_causes as (

    select distinct
        complaint_id,
        root_cause,
        root_cause_label
    from root_causes

),

located as (

    select
        complaints.complaint_id,
        complaints.month_start_date,
        complaint_causes.root_cause,
        complaint_causes.root_cause_label,
        case
            when complaints.store_id is null then 'mall'
            else coalesce(stores.store_category, 'unknown')
        end as store_category

    from complaints
    inner join complaint_causes on complaints.complaint_id = complaint_causes.complaint_id
    left join stores on complaints.store_id = stores.store_id

),

counted as (

    select
        month_start_date,
        store_category,
        root_cause,
        root_cause_label,
        count(*) as complaint_count
    from located
    group by month_start_date, store_category, root_cause, root_cause_label

),

group_totals as (

    select
        month_start_date,
        store_category,
        count(*) as group_complaint_count
    from located
    group by month_start_date, store_category

),

term_counts as (

    select
        located.month_start_date,
        located.store_category,
        located.root_cause,
        root_causes.term,
        count(*) as term_complaint_count
    from located
    inner join root_causes on located.complaint_id = root_causes.complaint_id
    where root_causes.term is not null
    group by located.month_start_date, located.store_category, located.root_cause, root_causes.term

),

term_ranks as (

    select
        *,
        row_number() over (
            partition by month_start_date, store_category, root_cause
            order by term_complaint_count desc, term asc
        ) as term_rank
    from term_counts

),

top_terms as (

    select
        month_start_date,
        store_category,
        root_cause,
        max(case when term_rank = 1 then term end) as top_term_1,
        max(case when term_rank = 2 then term end) as top_term_2,
        max(case when term_rank = 3 then term end) as top_term_3
    from term_ranks
    where term_rank <= 3
    group by month_start_date, store_category, root_cause

),

final as (

    select
        {{ surrogate_key(['counted.month_start_date', 'counted.store_category', 'counted.root_cause']) }}
            as root_cause_month_id,
        counted.month_start_date,
        counted.store_category,
        counted.root_cause,
        counted.root_cause_label,
        cast(counted.complaint_count as {{ dbt.type_int() }}) as complaint_count,
        cast(group_totals.group_complaint_count as {{ dbt.type_int() }}) as group_complaint_count,
        cast(
            cast(counted.complaint_count as {{ double_type() }}) / group_totals.group_complaint_count
            as {{ double_type() }}
        ) as complaint_share,
        top_terms.top_term_1,
        top_terms.top_term_2,
        top_terms.top_term_3

    from counted
    inner join group_totals
        on counted.month_start_date = group_totals.month_start_date
        and counted.store_category = group_totals.store_category
    left join top_terms
        on counted.month_start_date = top_terms.month_start_date
        and counted.store_category = top_terms.store_category
        and counted.root_cause = top_terms.root_cause

)

select * from final
