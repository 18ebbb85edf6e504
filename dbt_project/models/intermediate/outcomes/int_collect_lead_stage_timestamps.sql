-- When each routed lead passed each stage, from the tables that record it: received (the producer's
-- received_at of the lead's first event), landed and validated (raw.inbound_events.ingested_at: the ingest
-- validates and stores a line in one transaction, and the landing zone keeps no arrival time of its own,
-- so both stages end then), matched (identity scored_at), enriched (the last lookup of the lead's company
-- domain; none when the CRM already knew it), decided (lead_decisions.decided_at), written to the CRM
-- (first upsert the outbox confirmed) and first touch (the owner's first call, email or task).
with leads as (
    select * from {{ ref('int_join_outcomes_to_decisions') }}
),

lead_events as (
    select * from {{ ref('lead_events') }}
),

raw_events as (
    select * from {{ ref('stg_leadops_raw__inbound_events') }}
),

matches as (
    select * from {{ ref('stg_identity__event_matches') }}
),

firmographics as (
    select * from {{ ref('stg_enrichment__domain_firmographics') }}
),

crm_writes as (
    select * from {{ ref('stg_feedback__crm_writes') }}
),

event_times as (
    select
        lead_events.lead_id,
        min(raw_events.ingested_at) as landed_at,
        min(matches.scored_at) as matched_at,
        max(
            case when firmographics.enrichment_status <> 'pending_retry' then firmographics.last_attempt_at end
        ) as enriched_at
    from lead_events
    inner join raw_events
        on lead_events.event_id = raw_events.event_id
    left join matches
        on lead_events.event_id = matches.event_id
    left join firmographics
        on coalesce(raw_events.website_domain, raw_events.email_domain) = firmographics.domain
    group by lead_events.lead_id
),

written as (
    select
        lead_id,
        min(written_at) as written_to_crm_at
    from crm_writes
    where operation = 'upsert_lead' and write_status in ('written', 'unchanged')
    group by lead_id
)

select
    leads.lead_id,
    leads.source,
    leads.team,
    leads.first_received_at as received_at,
    event_times.landed_at,
    event_times.landed_at as validated_at,
    event_times.matched_at,
    event_times.enriched_at,
    leads.decided_at,
    written.written_to_crm_at,
    leads.first_touch_at
from leads
left join event_times
    on leads.lead_id = event_times.lead_id
left join written
    on leads.lead_id = written.lead_id
