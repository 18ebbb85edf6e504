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
        source,
        received_at,
        email_normalized,
        email_key,
        email_domain,
        is_free_email,
        is_disposable_email,
        first_name_normalized,
        last_name_normalized,
        company,
        company_normalized,
        job_title,
        website_domain,
        country_code,
        phone_e164,
        employees_reported_min,
        partner_id,
        partner_name,
        spam_signals,
        ip,
        message
    from events
    inner join people
        on events.event_id = people.record_id
)

select * from identified
