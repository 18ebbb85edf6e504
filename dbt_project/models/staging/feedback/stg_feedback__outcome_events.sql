-- Outcome events, one row per accepted outcome_id, renamed and cast. process_leads builds this view too,
-- before any outcome file may have arrived: until the feedback asset has created raw.outcome_events the
-- view is an empty relation with the same columns, so the pipeline never waits on feedback.
{%- set columns = {
    'outcome_id': dbt.type_string(), 'lead_id': dbt.type_string(), 'crm_external_id': dbt.type_string(),
    'kind': dbt.type_string(), 'occurred_at': dbt.type_timestamp(), 'actor': dbt.type_string(),
    'actor_type': dbt.type_string(), 'from_owner_id': dbt.type_string(), 'to_owner_id': dbt.type_string(),
    'reason': dbt.type_string(), 'status': dbt.type_string(), 'contact_id': dbt.type_string(),
    'account_id': dbt.type_string(), 'opportunity_id': dbt.type_string(), 'stage': dbt.type_string(),
    'amount': dbt.type_numeric(), 'currency': dbt.type_string(), 'meeting_id': dbt.type_string(),
    'meeting_at': dbt.type_timestamp(), 'channel': dbt.type_string(), 'mark': dbt.type_string(),
    'ingested_at': dbt.type_timestamp(),
} %}
{%- set empty = [] %}
{%- set typed = [] %}
{%- for name, type in columns.items() %}
    {%- do empty.append('cast(null as ' ~ type ~ ') as ' ~ name) %}
    {%- do typed.append('cast(' ~ name ~ ' as ' ~ type ~ ') as ' ~ name) %}
{%- endfor %}
{%- set source_relation = load_relation(source('feedback', 'outcome_events')) %}

with source as (
    {%- if source_relation is not none %}
        select * from {{ source('feedback', 'outcome_events') }}
    {%- else %}
        select {{ empty | join(', ') }}
        where 1 = 0
    {%- endif %}
),

renamed as (
    select {{ typed | join(', ') }}
    from source
)

select * from renamed
