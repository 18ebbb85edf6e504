-- The decisions of earlier runs, as lead_decisions held them when this run started: round robin counts
-- an owner's earlier assignments and skips leads already decided; overrides see which one was applied.
--
-- Read by name, not by ref: lead_decisions is built from the models that read this one, so a ref would
-- be a cycle. It is a view, so it reads the table at query time: while lead_decisions is rebuilt, that is
-- the state before this run. Empty on the first build and on --full-refresh, like the model's own
-- is_incremental() branch.
{%- set earlier = none %}
{%- if execute and not flags.FULL_REFRESH %}
    {%- set earlier = adapter.get_relation(
        database=target.database,
        schema=generate_schema_name('marts', none) | trim,
        identifier='lead_decisions',
    ) %}
{%- endif %}
{% if earlier is not none %}
    select
        lead_id,
        rule_id,
        team,
        owner_id,
        override_id
    from {{ earlier }}
{% else %}
    select
        cast(null as {{ dbt.type_string() }}) as lead_id,
        cast(null as {{ dbt.type_string() }}) as rule_id,
        cast(null as {{ dbt.type_string() }}) as team,
        cast(null as {{ dbt.type_string() }}) as owner_id,
        cast(null as {{ dbt.type_string() }}) as override_id
    where 1 = 0
{% endif %}
