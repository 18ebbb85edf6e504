{% macro decision_time() -%}
    {#- The time a decision is stamped with: now, unless the project variable `leadops_decision_time`
        ('2026-01-01 00:00:00') fixes it, so two builds of the same input (DuckDB and Spark, a replay)
        stamp the same decided_at and everything measured from it (speed to lead, escalations). -#}
    {%- set fixed = var('leadops_decision_time', none) -%}
    {%- if fixed is none -%}
        cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }})
    {%- else -%}
        cast('{{ fixed }}' as {{ dbt.type_timestamp() }})
    {%- endif -%}
{%- endmacro %}
