-- Round robin: new leads routed to a team without a named owner are dealt among the team's active owners
-- (capacity 0 parks an owner). Deterministic: new leads in order of first_received_at, lead_id; owners in
-- order of their earlier round-robin assignments, then owner_id; the k-th new lead of a team goes to owner
-- slot k mod n. Dealing to the least-loaded owners first keeps every owner's count within 1 of the others
-- across batches. A lead of a team with no eligible owner gets no row (lead_decisions escalates it as
-- no_active_owner); a lead decided on an earlier run or still waiting for enrichment takes no slot.
-- A lead the first-touch SLA re-routed (ops.sla_events) counts for the owner who holds it now, its latest
-- re-route's new owner, and no longer for the owners it was taken from: otherwise an owner who just got
-- a re-routed lead would be dealt the next new lead as if they had one fewer.
with rule_decisions as (
    select * from {{ ref('int_evaluate_routing_rules') }}
),

leads as (
    select * from {{ ref('int_assign_lead_territories') }}
),

earlier_decisions as (
    select * from {{ ref('int_recall_lead_decisions') }}
),

owners as (
    select * from {{ ref('stg_crm__owners') }}
),

sla_reroutes as (
    select * from {{ ref('stg_feedback__sla_events') }}
    where sla_step = 'rerouted' and new_owner_id is not null
),

-- A lead re-routed twice has two rows; the latest decides who holds it.
latest_reroutes as (
    select
        lead_id,
        new_owner_id as owner_id,
        row_number() over (partition by lead_id order by stepped_at desc, new_owner_id desc) as recency
    from sla_reroutes
),

round_robin_leads as (
    select
        rule_decisions.lead_id,
        rule_decisions.team,
        row_number() over (
            partition by rule_decisions.team order by leads.first_received_at, rule_decisions.lead_id
        ) - 1 as lead_slot
    from rule_decisions
    inner join leads
        on rule_decisions.lead_id = leads.lead_id
    left join earlier_decisions
        on rule_decisions.lead_id = earlier_decisions.lead_id
    where
        earlier_decisions.lead_id is null
        and not rule_decisions.is_waiting
        and rule_decisions.disposition = 'route'
        and rule_decisions.owner_id is null
        and rule_decisions.team is not null
),

-- Every earlier decision is a round-robin assignment except an account owner's (named_owner_rule_kinds)
-- and an operator's override: whatever rule ids the policy gives its own rules. An SLA re-route is the
-- team's rotation handing the lead on (within the decision's team), whatever rule decided it first: it
-- counts for the owner it went to, the one the CRM sync writes.
earlier_assignments as (
    select
        coalesce(latest_reroutes.owner_id, earlier_decisions.owner_id) as owner_id,
        earlier_decisions.team,
        count(*) as assigned_count
    from earlier_decisions
    left join latest_reroutes
        on
            earlier_decisions.lead_id = latest_reroutes.lead_id
            and latest_reroutes.recency = 1
    where
        latest_reroutes.lead_id is not null
        or (
            earlier_decisions.rule_id not in {{ named_owner_rule_kinds() }}
            and earlier_decisions.rule_id <> 'override'
        )
    group by coalesce(latest_reroutes.owner_id, earlier_decisions.owner_id), earlier_decisions.team
),

eligible_owners as (
    select
        owners.owner_id,
        owners.team,
        row_number() over (
            partition by owners.team
            order by coalesce(earlier_assignments.assigned_count, 0), owners.owner_id
        ) - 1 as owner_slot,
        count(*) over (partition by owners.team) as team_size
    from owners
    left join earlier_assignments
        on
            owners.owner_id = earlier_assignments.owner_id
            and owners.team = earlier_assignments.team
    where
        owners.is_active
        and coalesce(owners.capacity, 1) > 0
)

select
    round_robin_leads.lead_id,
    round_robin_leads.team,
    eligible_owners.owner_id
from round_robin_leads
inner join eligible_owners
    on
        round_robin_leads.team = eligible_owners.team
        and mod(round_robin_leads.lead_slot, eligible_owners.team_size) = eligible_owners.owner_slot
