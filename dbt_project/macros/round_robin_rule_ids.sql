{% macro round_robin_rule_ids() -%}
    {#- The routing rules whose candidates name a team but no owner, so round robin draws the owner: every
        rule of the active policy except the kinds in named_owner_rule_kinds (a built-in rule's kind is its
        id). The singular test assert_round_robin_rules_leave_the_owner_open fails if
        int_evaluate_routing_rules and this list drift apart. Rendered as a SQL subquery. -#}
    (
        select rule_id from {{ ref('routing_rules') }}
        where coalesce(kind, rule_id) not in {{ named_owner_rule_kinds() }}
    )
{%- endmacro %}
