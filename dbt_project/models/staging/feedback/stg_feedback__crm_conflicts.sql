-- ops.crm_conflicts, written by the outbound stage when a person changed in the CRM what an action would
-- overwrite (the owner, the status): LeadOps' value and the CRM's, who changed it and when. The CRM's value
-- is never overwritten; a person decides. Read by relation lookup like stg_feedback__crm_writes: outbound
-- runs after dbt. Empty with these columns before the first conflict.
{%- set columns = {
    'action_id': dbt.type_string(), 'lead_id': dbt.type_string(), 'field_name': dbt.type_string(),
    'leadops_value': dbt.type_string(), 'crm_value': dbt.type_string(), 'crm_record_id': dbt.type_string(),
    'changed_by': dbt.type_string(), 'changed_at': dbt.type_timestamp(),
    'detected_at': dbt.type_timestamp(),
} %}
{%- set empty = [] %}
{%- set typed = [] %}
{%- for name, type in columns.items() %}
    {%- do empty.append('cast(null as ' ~ type ~ ') as ' ~ name) %}
    {%- do typed.append('cast(' ~ name ~ ' as ' ~ type ~ ') as ' ~ name) %}
{%- endfor %}
{%- set conflicts = adapter.get_relation(database=target.database, schema='ops', identifier='crm_conflicts') %}

with source as (
    {%- if conflicts is not none %}
        select
            action_id,
            lead_id,
            field as field_name,
            leadops_value,
            crm_value,
            crm_record_id,
            changed_by,
            changed_at,
            detected_at
        from {{ conflicts }}
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
