with source as (
    select * from {{ source('interpretation', 'lead_interpretations') }}
),

renamed as (
    select
        lead_id,
        content_sha256,
        backend,
        model,
        prompt_version,
        intent,
        intent_confidence,
        product_interest,
        urgency,
        summary,
        follow_up_questions,
        policy_sensitive,
        policy_flag,
        is_valid,
        error,
        cast(interpreted_at as {{ dbt.type_timestamp() }}) as interpreted_at
    from source
)

select * from renamed
