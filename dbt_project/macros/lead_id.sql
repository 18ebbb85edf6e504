{% macro lead_id(email_key, event_id) -%}
    {#- One lead per matching email key: `lead_` + the first 16 hex digits of md5(email_key). An event
        without a usable email is a lead of its own, keyed on its event_id (prefixed so that no event id
        can ever collide with an email key). -#}
    case
        when {{ email_key }} is not null
            then {{ dbt.concat(["'lead_'", "substr(" ~ dbt.hash(email_key) ~ ", 1, 16)"]) }}
        else {{ dbt.concat(["'lead_'", "substr(" ~ dbt.hash(dbt.concat(["'event:'", event_id])) ~ ", 1, 16)"]) }}
    end
{%- endmacro %}
