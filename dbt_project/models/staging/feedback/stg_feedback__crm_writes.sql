-- ops.crm_writes, the outbound stage's log of sends (assets/outbound): when each lead was written to the
-- CRM, as which record, after how many attempts (status written or unchanged; parked writes never reached
-- it). Read by relation lookup for the same reason as stg_feedback__lead_state_log: outbound runs after dbt,
-- a source would draw a cycle. Empty with these columns before the first write.
{%- set columns = {
    'lead_id': dbt.type_string(), 'operation': dbt.type_string(), 'external_id': dbt.type_string(),
    'crm_object_type': dbt.type_string(), 'crm_record_id': dbt.type_string(),
    'write_status': dbt.type_string(), 'attempts': dbt.type_int(), 'write_error': dbt.type_string(),
    'written_at': dbt.type_timestamp(),
} %}

{% call(relation) stage_python_written_table('ops', 'crm_writes', columns) %}
    select
        lead_id,
        operation,
        external_id,
        crm_object_type,
        crm_record_id,
        status as write_status,
        attempts,
        error as write_error,
        written_at
    from {{ relation }}
{% endcall %}
