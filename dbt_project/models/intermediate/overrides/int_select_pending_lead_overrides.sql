-- The operator's decision override a lead has not received yet: its latest reroute_owner, reroute_team or
-- disqualify override in force (int_resolve_active_overrides), unless lead_decisions already carries that
-- override_id. lead_decisions applies it on this run, whatever automation decided.
--
-- The new owner: reroute_owner names it (and its team); reroute_team deals the lead to the team's active
-- owner with the fewest leads in lead_decisions so far (then owner_id). NULL when the team has no active
-- owner: lead_decisions then escalates.
with decision_overrides as (
    select
        *,
        row_number() over (partition by target_id order by created_at desc, override_id desc) as recency
    from {{ ref('int_resolve_active_overrides') }}
    where
        scope = 'lead'
        and action in ('reroute_owner', 'reroute_team', 'disqualify')
),

earlier_decisions as (
    select * from {{ ref('int_recall_lead_decisions') }}
),

owners as (
    select * from {{ ref('stg_crm__owners') }}
),

team_owner_loads as (
    select
        owners.owner_id,
        owners.team,
        row_number() over (
            partition by owners.team order by count(earlier_decisions.lead_id), owners.owner_id
        ) as load_rank
    from owners
    left join earlier_decisions
        on owners.owner_id = earlier_decisions.owner_id
    where owners.is_active
    group by owners.owner_id, owners.team
)

select
    decision_overrides.target_id as lead_id,
    decision_overrides.override_id,
    decision_overrides.action,
    decision_overrides.actor,
    decision_overrides.reason,
    case
        when decision_overrides.action = 'reroute_owner' then decision_overrides.value
        when decision_overrides.action = 'reroute_team' then team_owner_loads.owner_id
    end as owner_id,
    case
        when decision_overrides.action = 'reroute_owner' then override_owners.team
        when decision_overrides.action = 'reroute_team' then decision_overrides.value
    end as team
from decision_overrides
left join earlier_decisions
    on decision_overrides.target_id = earlier_decisions.lead_id
left join owners as override_owners
    on decision_overrides.value = override_owners.owner_id
left join team_owner_loads
    on
        decision_overrides.value = team_owner_loads.team
        and team_owner_loads.load_rank = 1
where
    decision_overrides.recency = 1
    and coalesce(earlier_decisions.override_id, '') <> decision_overrides.override_id
