{#
    Staging for a table a Python stage writes after dbt has run (ops.lead_state_log, ops.outbox_actions,
    ...): dbt cannot declare it a source, because the table is downstream of dbt's own models and a source
    would draw a cycle. So the table is found by relation lookup, and until its first row is written (a
    fresh warehouse) the model is an empty relation with the same typed columns.

    The caller selects from the relation it is handed, renaming to the staging names; `columns` maps each
    staging name to its cross-database type, in output order.
#}
{% macro stage_python_written_table(schema, identifier, columns) %}
    {%- set relation = adapter.get_relation(database=target.database, schema=schema, identifier=identifier) %}
with source as (
    {%- if relation is not none %}
        {{ caller(relation) }}
    {%- else %}
        select
            {%- for name, type in columns.items() %}
            cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
            {%- endfor %}
        where 1 = 0
    {%- endif %}
),

renamed as (
    select
        {%- for name, type in columns.items() %}
        cast({{ name }} as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from source
)

select * from renamed
{% endmacro %}
