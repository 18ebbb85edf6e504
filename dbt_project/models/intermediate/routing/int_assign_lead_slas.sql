{{ config(tags=['decide']) }}

-- How fast a routed lead must get a first touch, known once the team is: the sla_tiers seed row matching
-- the lead's source, segment and team ('*' matches anything) with the lowest priority number wins, so a
-- policy can set minutes by team (the partner desk answers in a day), by source x segment, or both.
-- Only a lead routed to someone has an SLA: a disqualified or escalated lead (including a team-routed
-- lead nobody can take, which lead_decisions escalates as no_active_owner) has none.
with leads as (
    select * from {{ ref('int_assign_lead_territories') }}
),

rule_decisions as (
    select * from {{ ref('int_evaluate_routing_rules') }}
),

round_robin_owners as (
    select * from {{ ref('int_assign_round_robin_owners') }}
),

sla_tiers as (
    select * from {{ ref('sla_tiers') }}
),

routed_leads as (
    select
        leads.lead_id,
        leads.source,
        leads.segment,
        rule_decisions.team
    from leads
    inner join rule_decisions
        on leads.lead_id = rule_decisions.lead_id
    left join round_robin_owners
        on leads.lead_id = round_robin_owners.lead_id
    where
        rule_decisions.disposition = 'route'
        and coalesce(rule_decisions.owner_id, round_robin_owners.owner_id) is not null
),

matching_tiers as (
    select
        routed_leads.lead_id,
        sla_tiers.sla_minutes,
        row_number() over (partition by routed_leads.lead_id order by sla_tiers.priority) as tier_rank
    from routed_leads
    inner join sla_tiers
        on
            (sla_tiers.source = '*' or routed_leads.source = sla_tiers.source)
            and (sla_tiers.segment = '*' or routed_leads.segment = sla_tiers.segment)
            and (coalesce(sla_tiers.team, '*') = '*' or routed_leads.team = sla_tiers.team)
)

select
    leads.lead_id,
    matching_tiers.sla_minutes
from leads
left join matching_tiers
    on
        leads.lead_id = matching_tiers.lead_id
        and matching_tiers.tier_rank = 1
