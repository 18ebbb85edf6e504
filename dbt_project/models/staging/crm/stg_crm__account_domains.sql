with source as (
    select * from {{ source('crm', 'account_domains') }}
),

renamed as (
    select
        account_id,
        lower(trim(domain)) as domain,
        coalesce(is_primary, false) as is_primary
    from source
)

select * from renamed
