{% macro round_robin_rule_ids() -%}
    {#- The routing rules whose candidates name a team but no owner, so lead_decisions draws the owner by
        round robin. lead_decisions counts an owner's earlier round-robin assignments by these rule ids
        (the fairness across batches); the singular test assert_round_robin_rules_leave_the_owner_open
        fails if int_evaluate_routing_rules and this list drift apart. Rendered as a SQL list. -#}
    ('partner_referral', 'special_case', 'territory_segment')
{%- endmacro %}
