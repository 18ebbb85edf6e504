-- Which lead each accepted event belongs to: one lead per person, as the splink identity step resolved it
-- (the current row of stg_identity__person_assignments), so a person who submits three forms - other case,
-- a plus-address, a nickname, another source - is one lead with three events. An operator's unmerge moves
-- an event to a person of its own; the test assert_every_event_has_a_person catches an event the identity
-- step has not resolved.
with events as (
    select * from {{ ref('stg_leadops_raw__inbound_events') }}
),

people as (
    select * from {{ ref('stg_identity__person_assignments') }}
    where is_current and record_kind = 'event'
),

identified as (
    select
        events.event_id,
        people.person_id as lead_id,
        events.source,
        events.received_at,
        events.email_normalized,
        events.email_key,
        events.email_domain,
        events.is_free_email,
        events.is_disposable_email,
        events.first_name_normalized,
        events.last_name_normalized,
        events.company,
        events.company_normalized,
        events.job_title,
        events.website_domain,
        events.country_code,
        events.phone_e164,
        events.employees_reported_min,
        events.partner_id,
        events.partner_name,
        events.spam_signals,
        events.ip,
        events.message
    from events
    inner join people
        on events.event_id = people.record_id
)

select * from identified
