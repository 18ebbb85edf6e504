{% macro as_text(expression) -%}
    {#- Cast to the adapter's string type, for numbers and timestamps inside human-readable reasons. -#}
    cast({{ expression }} as {{ dbt.type_string() }})
{%- endmacro %}
