-- Which lead each accepted event belongs to (the state log and the CRM notes hang off this).
with lead_events as (
    select * from {{ ref('int_identify_lead_events') }}
)

select
    event_id,
    lead_id,
    source,
    received_at
from lead_events
