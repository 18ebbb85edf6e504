-- ops.lead_state_log, the decision stage's append-only log (assets/decisions): which rules version decided
-- each lead, and the evidence each step carried. Read by relation lookup, not as a dbt source: the log is
-- written by a Python step that runs after dbt's decide step, so a source would make that step wait for its
-- own downstream (a cycle in the Dagster graph). Before the first run has logged anything this is an empty
-- relation with these columns.
{%- set columns = {
    'lead_id': dbt.type_string(), 'from_state': dbt.type_string(), 'to_state': dbt.type_string(),
    'logged_at': dbt.type_timestamp(), 'actor': dbt.type_string(), 'rules_version': dbt.type_string(),
    'evidence_json': dbt.type_string(), 'seq': dbt.type_bigint(),
} %}

{% call(relation) stage_python_written_table('ops', 'lead_state_log', columns) %}
    select
        lead_id,
        from_state,
        to_state,
        -- Quoted by the adapter: Spark reads "at" as the string 'at'.
        {{ adapter.quote('at') }} as logged_at,
        actor,
        rules_version,
        evidence_json,
        seq
    from {{ relation }}
{% endcall %}
