-- sqlfluff:max_parse_depth:2000
-- stg_feedback__surveys with personal columns masked as declared in its column meta
-- (meta.masked_columns); see macros/privacy/masked_columns.sql. Before the free text is
-- scrubbed, the respondent's own full name (stg_membership__members, joined on
-- member_id) is replaced by [姓名] (macros columns_without_known_name and
-- pii_remove_known_name: replace, portable);
-- scrub_free_text then replaces identifiers and names found by the surname + cue heuristic.
-- (The nested regexp_replace of scrub_free_text is deeper than sqlfluff's default parse
-- depth, hence the first line.)

with

surveys as (

    select * from {{ ref('stg_feedback__surveys') }}

),

members as (

    select
        member_id as named_member_id,
        full_name as named_full_name
    from {{ ref('stg_membership__members') }}

),

named as (

    select
        {{ columns_without_known_name(
            'stg_feedback__surveys', 'surveys', 'comment_text', 'members.named_full_name'
        ) }}
    from surveys
    left join members
        on surveys.member_id = members.named_member_id

)

select
    {{ masked_columns('stg_feedback__surveys') }}
from named
