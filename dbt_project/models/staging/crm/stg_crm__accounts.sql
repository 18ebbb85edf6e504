-- alias_domains is left out on purpose: crm.account_domains holds the same domains one per row.
with source as (
    select * from {{ source('crm', 'accounts') }}
),

renamed as (
    select
        account_id,
        name as account_name,
        lower(trim(domain)) as primary_domain,
        country,
        cast(employees as {{ dbt.type_int() }}) as employees,
        -- Lower-cased so the special_cases seed matches "Fintech", "fintech" and " FinTech " alike.
        lower(trim(industry)) as industry,
        status as account_status,
        owner_id
    from source
)

select * from renamed
