-- Every event that adds to or takes from an owner's inbound workload, one row each: a lead the pipeline
-- assigned, a lead a person gave them, a lead a person took away (out of office or otherwise) and a booked
-- meeting the lead did not attend (latest meeting state by event time).
with leads as (
    select * from {{ ref('int_join_outcomes_to_decisions') }}
),

outcomes as (
    select * from {{ ref('stg_feedback__outcome_events') }}
),

latest as (
    select * from {{ ref('int_pick_latest_outcome_states') }}
),

reassignments as (
    select
        outcomes.lead_id,
        outcomes.occurred_at,
        outcomes.to_owner_id,
        coalesce(outcomes.from_owner_id, leads.owner_id) as from_owner_id,
        outcomes.reason
    from outcomes
    inner join leads
        on outcomes.lead_id = leads.lead_id
    where outcomes.kind = 'owner_reassigned' and outcomes.actor_type = 'person'
)

select
    owner_id,
    lead_id,
    decided_at as occurred_at,
    'assigned' as workload_event
from leads
union all
select
    to_owner_id as owner_id,
    lead_id,
    occurred_at,
    'reassigned_to' as workload_event
from reassignments
union all
select
    from_owner_id as owner_id,
    lead_id,
    occurred_at,
    case when reason = 'out_of_office' then 'out_of_office' else 'reassigned_away' end as workload_event
from reassignments
where from_owner_id is not null
union all
select
    leads.owner_id,
    latest.lead_id,
    latest.state_since as occurred_at,
    'no_show' as workload_event
from latest
inner join leads
    on latest.lead_id = leads.lead_id
where latest.entity_kind = 'meeting' and latest.state = 'no_show'
