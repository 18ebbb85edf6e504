-- ops.sla_events, the outbound stage's log of first-touch SLA steps (assets/outbound/sla.py): a reminder to
-- the owner, a re-route to the team's next active owner (new_owner_id), an escalation to review, a first
-- touch read from the CRM. Round robin reads the re-routes so an owner who received a lead that way counts
-- it. Read by relation lookup like stg_feedback__crm_writes: the SLA job writes it after dbt, a source would
-- draw a cycle. Empty with these columns before the first SLA step.
{%- set columns = {
    'lead_id': dbt.type_string(), 'owner_id': dbt.type_string(), 'sla_step': dbt.type_string(),
    'sla_deadline': dbt.type_timestamp(), 'stepped_at': dbt.type_timestamp(),
    'new_owner_id': dbt.type_string(), 'detail': dbt.type_string(),
} %}

{% call(relation) stage_python_written_table('ops', 'sla_events', columns) %}
    select
        lead_id,
        owner_id,
        step as sla_step,
        deadline as sla_deadline,
        {{ adapter.quote('at') }} as stepped_at,
        new_owner_id,
        detail
    from {{ relation }}
{% endcall %}
