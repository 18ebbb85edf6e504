-- ops.lead_state_log, the decision stage's append-only log (assets/decisions): which rules version decided
-- each lead. Read by relation lookup, not as a dbt source: the log is written by a Python step that runs
-- after dbt's decide step, so a source would make that step wait for its own downstream (a cycle in the
-- Dagster graph). Before the first run has logged anything this is an empty relation with these columns.
{%- set columns = {
    'lead_id': dbt.type_string(), 'from_state': dbt.type_string(), 'to_state': dbt.type_string(),
    'logged_at': dbt.type_timestamp(), 'actor': dbt.type_string(), 'rules_version': dbt.type_string(),
    'seq': dbt.type_bigint(),
} %}
{%- set log = adapter.get_relation(database=target.database, schema='ops', identifier='lead_state_log') %}

with source as (
    {%- if log is not none %}
        select
            lead_id,
            from_state,
            to_state,
            "at" as logged_at,
            actor,
            rules_version,
            seq
        from {{ log }}
    {%- else %}
        select
            {%- for name, type in columns.items() %}
                cast(null as {{ type }}) as {{ name }}{{ ',' if not loop.last }}
            {%- endfor %}
        where 1 = 0
    {%- endif %}
),

renamed as (
    select
        {%- for name, type in columns.items() %}
            cast({{ name }} as {{ type }}) as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from source
)

select * from renamed
