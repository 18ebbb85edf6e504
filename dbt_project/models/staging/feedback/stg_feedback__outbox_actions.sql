-- ops.outbox_actions, the outbound stage's transactional outbox (assets/outbound): every side effect
-- planned for a lead (CRM upsert, owner, task, note), keyed lead + kind + decision version, with its status
-- (pending, in_flight, done, dead, conflict, cancelled, superseded) and attempts. Read by relation lookup
-- like stg_feedback__crm_writes: outbound runs after dbt. Empty with these columns before the first run.
{%- set columns = {
    'action_id': dbt.type_string(), 'lead_id': dbt.type_string(), 'kind': dbt.type_string(),
    'decision_version': dbt.type_string(), 'seq': dbt.type_bigint(), 'external_id': dbt.type_string(),
    'action_status': dbt.type_string(), 'attempts': dbt.type_int(),
    'next_attempt_at': dbt.type_timestamp(), 'last_error': dbt.type_string(),
    'enqueued_at': dbt.type_timestamp(), 'updated_at': dbt.type_timestamp(),
} %}

{% call(relation) stage_python_written_table('ops', 'outbox_actions', columns) %}
    select
        action_id,
        lead_id,
        kind,
        decision_version,
        seq,
        external_id,
        status as action_status,
        attempts,
        next_attempt_at,
        last_error,
        enqueued_at,
        updated_at
    from {{ relation }}
{% endcall %}
