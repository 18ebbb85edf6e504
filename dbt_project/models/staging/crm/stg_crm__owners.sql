with source as (
    select * from {{ source('crm', 'owners') }}
),

renamed as (
    select
        owner_id,
        name as owner_name,
        email as owner_email,
        team,
        region,
        coalesce(active, false) as is_active,
        cast(capacity as {{ dbt.type_int() }}) as capacity
    from source
)

select * from renamed
