{% macro latest_non_null(column, partition_by, order_by) -%}
    {#- The most recent non-null value of `column` within each partition, as a window expression.
        Portable form of `last_value(... ignore nulls)`, whose syntax differs between engines: rows with a
        value sort first, newest first, and first_value takes the top row (always inside the default
        frame). `order_by` is the recency order, newest first, e.g. "received_at desc, event_id desc". -#}
    first_value({{ column }}) over (
        partition by {{ partition_by }}
        order by case when {{ column }} is null then 1 else 0 end, {{ order_by }}
    )
{%- endmacro %}
