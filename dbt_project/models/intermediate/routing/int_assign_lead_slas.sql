-- How fast a routed lead must get a first touch: the sla_tiers seed row matching the lead's source and
-- segment ('*' matches anything) with the lowest priority number wins.
with leads as (
    select * from {{ ref('int_assign_lead_territories') }}
),

sla_tiers as (
    select * from {{ ref('sla_tiers') }}
),

matching_tiers as (
    select
        leads.lead_id,
        sla_tiers.sla_minutes,
        row_number() over (partition by leads.lead_id order by sla_tiers.priority) as tier_rank
    from leads
    inner join sla_tiers
        on
            (sla_tiers.source = '*' or leads.source = sla_tiers.source)
            and (sla_tiers.segment = '*' or leads.segment = sla_tiers.segment)
)

select
    leads.lead_id,
    matching_tiers.sla_minutes
from leads
left join matching_tiers
    on
        leads.lead_id = matching_tiers.lead_id
        and matching_tiers.tier_rank = 1
