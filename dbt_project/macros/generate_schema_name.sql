{% macro generate_schema_name(custom_schema_name, node) -%}
    {#- A `+schema` config names the schema exactly (staging, intermediate, marts, rules) instead of dbt's
        default `<target schema>_<custom schema>`, so the warehouse contract in docs/architecture.md holds
        on every target. Nodes without a custom schema land in the target's schema. -#}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
