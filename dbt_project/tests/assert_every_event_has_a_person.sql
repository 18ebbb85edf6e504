-- Every accepted event must have a current person (the identity step runs before dbt). An event without
-- one would silently belong to no lead.
select events.event_id
from {{ ref('stg_leadops_raw__inbound_events') }} as events
left join {{ ref('stg_identity__person_assignments') }} as people
    on
        events.event_id = people.record_id
        and people.is_current
where people.record_id is null
