-- ops.crm_writes, the outbound stage's outbox (assets/outbound): when each lead was written to the CRM
-- (status written or unchanged; parked writes never reached it). Read by relation lookup for the same
-- reason as stg_feedback__lead_state_log: outbound runs after dbt, a source would draw a cycle. Empty with
-- these columns before the first write.
{%- set columns = {
    'lead_id': dbt.type_string(), 'operation': dbt.type_string(), 'external_id': dbt.type_string(),
    'write_status': dbt.type_string(), 'written_at': dbt.type_timestamp(),
} %}
{%- set outbox = adapter.get_relation(database=target.database, schema='ops', identifier='crm_writes') %}

with source as (
    {%- if outbox is not none %}
        select
            lead_id,
            operation,
            external_id,
            status as write_status,
            written_at
        from {{ outbox }}
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
