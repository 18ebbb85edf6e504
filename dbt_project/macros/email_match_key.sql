{% macro email_match_key(email) -%}
    {#- The matching key of a CRM address, in portable SQL, following the rule ingest applies to leads
        in Python (assets/ingest/normalize.py): lower-case and trimmed, `+tag` removed from the local part,
        and for gmail.com/googlemail.com the dots removed and the domain folded to gmail.com.
        NULL when the address has no `@`. -#}
    {%- set address = "lower(trim(" ~ email ~ "))" -%}
    {%- set local_part = dbt.split_part(dbt.split_part(address, "'@'", 1), "'+'", 1) -%}
    {%- set domain = dbt.split_part(address, "'@'", 2) -%}
    case
        when {{ dbt.position("'@'", address) }} = 0 then null
        when {{ domain }} in ('gmail.com', 'googlemail.com')
            then {{ dbt.concat(["replace(" ~ local_part ~ ", '.', '')", "'@gmail.com'"]) }}
        else {{ dbt.concat([local_part, "'@'", domain]) }}
    end
{%- endmacro %}
