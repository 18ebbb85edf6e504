{#- The overrides in force: revoked ones and revokes dropped, then the latest override per scope, target and
    kind of decision. A later reroute replaces an earlier one whether it names an owner or a team; a resume
    ends the pause before it (and is itself not in force); field corrections are kept per field. -#}
with overrides as (
    select * from {{ ref('stg_leadops_operator__overrides') }}
),

revokes as (
    select value as revoked_override_id
    from overrides
    where action = 'revoke'
),

not_revoked as (
    select overrides.*
    from overrides
    left join revokes
        on overrides.override_id = revokes.revoked_override_id
    where
        overrides.action != 'revoke'
        and revokes.revoked_override_id is null
),

with_kind as (
    select
        *,
        case
            when action in ('reroute_owner', 'reroute_team') then 'reroute'
            when action in ('pause_automation', 'resume_automation') then 'automation'
            when action = 'correct_field' then {{ dbt.concat(["'correct_field:'", 'field_name']) }}
            else action
        end as action_family
    from not_revoked
),

ranked as (
    select
        *,
        row_number() over (
            partition by scope, coalesce(target_id, ''), action_family
            order by created_at desc, line_number desc
        ) as recency_rank
    from with_kind
)

select
    override_id,
    created_at,
    actor,
    scope,
    target_id,
    action,
    value,
    field_name,
    field_value,
    reason
from ranked
where
    recency_rank = 1
    and action != 'resume_automation'
