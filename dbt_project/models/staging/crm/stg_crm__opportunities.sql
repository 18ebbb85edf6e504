with source as (
    select * from {{ source('crm', 'opportunities') }}
),

renamed as (
    select
        opportunity_id,
        account_id,
        stage,
        owner_id
    from source
)

select * from renamed
