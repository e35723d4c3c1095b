{#-
    Identity resolution: every identifier of a person -> one golden member id.

    Member records that share a card-number token or a mobile token are one person
    (duplicate registrations, re-issued cards). Clusters are found by label
    propagation over the current records (three rounds: chains of up to eight
    records); the golden id is the smallest member id of the cluster.
    Identifiers of earlier record versions (an old card or mobile) still resolve, but a
    current record's claim on a token wins over a historical one.
-#}
with

members as (

    select * from {{ ref('msk_membership__members') }}

),

member_versions as (

    select * from {{ ref('msk_membership__members_history') }}

),

round_0 as (

    select
        member_id,
        card_no_token,
        mobile_token,
        member_id as cluster_id
    from members

),

{%- for i in range(1, 4) %}

round_{{ i }} as (

    select
        member_id,
        card_no_token,
        mobile_token,
        least(
            min(cluster_id) over (partition by coalesce(card_no_token, member_id)),
            min(cluster_id) over (partition by coalesce(mobile_token, member_id))
        ) as cluster_id
    from round_{{ i - 1 }}

),
{%- endfor %}

golden as (

    select
        member_id,
        cluster_id as golden_member_id
    from round_3

),

identifiers as (

    -- priority 1: the current record's own identifiers
    select
        'member_id' as identifier_type,
        member_id as identifier_value,
        member_id,
        1 as claim_priority,
        updated_at
    from members
    union all
    select
        'card_no_token' as identifier_type,
        card_no_token as identifier_value,
        member_id,
        1 as claim_priority,
        updated_at
    from members
    where card_no_token is not null
    union all
    select
        'mobile_token' as identifier_type,
        mobile_token as identifier_value,
        member_id,
        1 as claim_priority,
        updated_at
    from members
    where mobile_token is not null
    union all
    -- priority 2: identifiers of earlier versions (old card, old mobile)
    select
        'card_no_token' as identifier_type,
        card_no_token as identifier_value,
        member_id,
        2 as claim_priority,
        updated_at
    from member_versions
    where card_no_token is not null
    union all
    select
        'mobile_token' as identifier_type,
        mobile_token as identifier_value,
        member_id,
        2 as claim_priority,
        updated_at
    from member_versions
    where mobile_token is not null

),

claims as (

    select
        identifiers.identifier_type,
        identifiers.identifier_value,
        identifiers.member_id,
        golden.golden_member_id,
        identifiers.claim_priority,
        row_number() over (
            partition by identifiers.identifier_type, identifiers.identifier_value
            order by
                identifiers.claim_priority asc,
                golden.golden_member_id asc,
                identifiers.updated_at desc,
                identifiers.member_id asc
        ) as claim_rank
    from identifiers
    inner join golden
        on identifiers.member_id = golden.member_id

),

final as (

    select
        {{ surrogate_key(['identifier_type', 'identifier_value']) }} as identity_key,
        identifier_type,
        identifier_value,
        member_id as source_member_id,
        golden_member_id,
        claim_priority = 2 as is_historical_identifier
    from claims
    where claim_rank = 1

)

select * from final
