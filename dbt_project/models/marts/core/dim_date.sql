{#-
    One row per calendar day 2023-01-01 .. 2028-12-31 with Chinese public holidays
    (days off) and shopping festivals from the `cn_holidays` seed. When two holidays
    share a day, the one whose festival day it is names the day.
-#}
with

spine as (

    {{ dbt.date_spine('day', "cast('2023-01-01' as date)", "cast('2029-01-01' as date)") }}

),

holidays as (

    select * from {{ ref('cn_holidays') }}

),

public_holidays as (

    select
        holiday_date,
        holiday_code,
        holiday_name,
        holiday_name_zh,
        is_festival_day,
        row_number() over (
            partition by holiday_date
            order by case when is_festival_day then 0 else 1 end, holiday_code
        ) as name_rank
    from holidays
    where holiday_type = 'public_holiday'

),

shopping_festivals as (

    select
        holiday_date,
        holiday_code,
        holiday_name,
        holiday_name_zh
    from holidays
    where holiday_type = 'shopping_festival'

),

days as (

    select cast(date_day as date) as date_day
    from spine
    where date_day < cast('2029-01-01' as date)

),

final as (

    select
        days.date_day,
        cast({{ dbt.date_trunc('month', 'days.date_day') }} as date) as month_start_date,
        {{ dbt.last_day('days.date_day', 'month') }} as month_end_date,
        cast({{ dbt.date_trunc('week', 'days.date_day') }} as date) as week_start_date,
        cast(extract(year from days.date_day) as {{ dbt.type_int() }}) as year_number,
        cast(extract(quarter from days.date_day) as {{ dbt.type_int() }}) as quarter_number,
        cast(extract(month from days.date_day) as {{ dbt.type_int() }}) as month_number,
        cast(extract(day from days.date_day) as {{ dbt.type_int() }}) as day_of_month,
        {{ iso_day_of_week('days.date_day') }} as iso_day_of_week,
        {{ iso_day_of_week('days.date_day') }} in (6, 7) as is_weekend,
        public_holidays.holiday_code is not null as is_public_holiday,
        public_holidays.holiday_code,
        public_holidays.holiday_name,
        public_holidays.holiday_name_zh,
        coalesce(public_holidays.is_festival_day, false) as is_festival_day,
        shopping_festivals.holiday_code is not null as is_shopping_festival,
        shopping_festivals.holiday_code as shopping_festival_code,
        shopping_festivals.holiday_name_zh as shopping_festival_name_zh,
        (
            {{ iso_day_of_week('days.date_day') }} in (6, 7)
            or public_holidays.holiday_code is not null
        ) as is_non_working_day
    from days
    left join public_holidays
        on days.date_day = public_holidays.holiday_date
        and public_holidays.name_rank = 1
    left join shopping_festivals
        on days.date_day = shopping_festivals.holiday_date

)

select * from final
