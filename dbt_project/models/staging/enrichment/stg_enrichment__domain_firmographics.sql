-- Provider firmographics per company domain. employees is the provider's count, never the lead's
-- self-reported band (that stays in stg_leadops_raw__inbound_events).
with source as (
    select * from {{ source('enrichment', 'domain_firmographics') }}
),

renamed as (
    select
        lower(trim(domain)) as domain,
        status as enrichment_status,
        -- The one gate for routing: below-threshold, pending and unavailable answers never set a segment.
        coalesce(status = 'found', false) as is_segment_usable,
        provider as enrichment_provider,
        company_name,
        upper(trim(country_code)) as country_code,
        cast(employees as {{ dbt.type_int() }}) as employees,
        -- Lower-cased like stg_crm__accounts.industry, so the special_cases seed matches either source.
        lower(trim(industry)) as industry,
        -- Left DOUBLE: dbt.type_float() is a 32-bit FLOAT on DuckDB and turns 0.9 into 0.8999999762.
        confidence,
        cast(attempts as {{ dbt.type_int() }}) as enrichment_attempts,
        cast(first_requested_at as {{ dbt.type_timestamp() }}) as first_requested_at,
        cast(last_attempt_at as {{ dbt.type_timestamp() }}) as last_attempt_at,
        cast(next_attempt_at as {{ dbt.type_timestamp() }}) as next_attempt_at,
        cast(deadline_at as {{ dbt.type_timestamp() }}) as enrichment_deadline_at,
        cast(expires_at as {{ dbt.type_timestamp() }}) as expires_at,
        error as enrichment_error
    from source
)

select * from renamed
