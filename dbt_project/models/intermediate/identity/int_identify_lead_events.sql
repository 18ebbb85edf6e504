-- Which lead each accepted event belongs to: one lead per email key (see macro lead_id), so a person who
-- submits three forms is one lead with three events.
with events as (
    select * from {{ ref('stg_leadops_raw__inbound_events') }}
),

identified as (
    select
        event_id,
        {{ lead_id('email_key', 'event_id') }} as lead_id,
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
        spam_signals
    from events
)

select * from identified
