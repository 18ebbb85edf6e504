with source as (
    select * from {{ source('identity', 'event_matches') }}
),

renamed as (
    select
        event_id,
        person_decision,
        person_candidate_id,
        person_candidate_source,
        person_candidate_person_id,
        person_match_probability,
        -- Why a pair goes to a person whatever its probability (confusable spellings of one name, ...).
        person_review_reason,
        account_decision,
        account_candidate_id,
        account_match_method,
        account_match_probability,
        person_model_sha256,
        account_model_sha256,
        cast(scored_at as {{ dbt.type_timestamp() }}) as scored_at
    from source
)

select * from renamed
