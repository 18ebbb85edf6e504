-- One row per accepted inbound event. Raw values are kept for audit; routing reads the columns ingest
-- normalized in Python (the *_normalized, email_key, website_domain, country_code, phone_e164, ... ones).
with source as (
    select * from {{ source('leadops_raw', 'inbound_events') }}
),

renamed as (
    select
        event_id,
        source,
        cast(received_at as {{ dbt.type_timestamp() }}) as received_at,
        email,
        first_name,
        last_name,
        full_name,
        company,
        website,
        job_title,
        phone,
        country,
        employees,
        message,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_content,
        utm_term,
        landing_page,
        partner_id,
        partner_name,
        partner_referrer_email,
        consent_marketing,
        honeypot,
        ip,
        user_agent,
        extra_json,
        payload_json,
        email_normalized,
        email_key,
        email_domain,
        is_free_email,
        is_disposable_email,
        first_name_normalized,
        last_name_normalized,
        company_normalized,
        website_domain,
        country_code,
        phone_e164,
        cast(employees_reported_min as {{ dbt.type_int() }}) as employees_reported_min,
        cast(employees_reported_max as {{ dbt.type_int() }}) as employees_reported_max,
        coalesce(spam_signals, '') as spam_signals,
        file_name,
        line_number,
        batch_id,
        cast(ingested_at as {{ dbt.type_timestamp() }}) as ingested_at
    from source
)

select * from renamed
