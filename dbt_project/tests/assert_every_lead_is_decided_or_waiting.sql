-- Every lead with an accepted event is either decided or visibly waiting for enrichment: nothing is lost
-- between the two (a lead neither decided nor waiting would be silently dropped).
{{ config(meta={'dagster': {'ref': {'name': 'lead_decisions'}}}) }}

select distinct lead_events.lead_id
from {{ ref('lead_events') }} as lead_events
left join {{ ref('lead_decisions') }} as decisions
    on lead_events.lead_id = decisions.lead_id
left join {{ ref('lead_waits') }} as waits
    on lead_events.lead_id = waits.lead_id
where
    decisions.lead_id is null
    and waits.lead_id is null
