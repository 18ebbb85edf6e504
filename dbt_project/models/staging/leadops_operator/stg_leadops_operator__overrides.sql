with source as (
    select * from {{ source('leadops_operator', 'operator_overrides') }}
),

renamed as (
    select
        override_id,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        actor,
        scope,
        target_id,
        action,
        value,
        -- correct_field values are `field=value`; the value may itself contain '=', so split at the first.
        case
            when action = 'correct_field'
                then {{ dbt.split_part('value', "'='", 1) }}
        end as field_name,
        case
            when action = 'correct_field'
                then substr(value, {{ dbt.position("'='", 'value') }} + 1)
        end as field_value,
        reason,
        cast(line_number as {{ dbt.type_int() }}) as line_number
    from source
)

select * from renamed
