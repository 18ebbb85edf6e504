{% macro in_policy_list(list_column, value) -%}
    {#- A policy list cell ('RU|BY|IR', empty = anything) holds the value. Portable: one delimited
        position() instead of a split, so no array functions are needed on DuckDB or Spark. -#}
    (
        {{ list_column }} is null
        or {{ dbt.position(
            dbt.concat(["'|'", "lower(" ~ value ~ ")", "'|'"]),
            dbt.concat(["'|'", "lower(" ~ list_column ~ ")", "'|'"]),
        ) }} > 0
    )
{%- endmacro %}

{% macro resolve_team_template(team, region, segment) -%}
    {#- A team cell may be a template: '{region}' and '{segment}' are replaced by the lead's region and
        segment ('PARTNER-{region}' -> 'PARTNER-EMEA'). A template whose value the lead lacks gives no
        team, so lead_decisions escalates the lead instead of routing it to a team that does not exist. -#}
    case
        when {{ team }} like '%{region}%' and {{ region }} is null then null
        when {{ team }} like '%{segment}%' and {{ segment }} is null then null
        else {{ dbt.replace(dbt.replace(team, "'{region}'", "coalesce(" ~ region ~ ", '')"),
                            "'{segment}'", "coalesce(" ~ segment ~ ", '')") }}
    end
{%- endmacro %}

{% macro named_owner_rule_kinds() -%}
    {#- The rule kinds whose candidates name their owner (the account owner). Every other routed rule
        names a team only and its owner is drawn by round robin. Rendered as a SQL list. -#}
    ('existing_customer', 'owned_prospect')
{%- endmacro %}
