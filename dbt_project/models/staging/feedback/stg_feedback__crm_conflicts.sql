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

{% call(relation) stage_python_written_table('ops', 'crm_conflicts', columns) %}
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
    from {{ relation }}
{% endcall %}
