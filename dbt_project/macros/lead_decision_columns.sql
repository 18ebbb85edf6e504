{% macro lead_decision_columns() -%}
    {#- The columns of lead_decisions, in table order: the one list the model's branches (new decisions,
        resubmissions, earlier decisions an operator overrode, the final override step) render from. -#}
    {{ return([
        'lead_id', 'event_ids', 'email', 'first_name', 'last_name', 'company', 'source',
        'account_id', 'account_name', 'contact_id', 'match_method', 'account_match_probability',
        'person_review_candidate_person_id', 'person_review_probability', 'account_review_candidate_id',
        'account_review_probability', 'country_code', 'region', 'segment', 'employees', 'employees_source',
        'employees_reported', 'enrichment_status', 'enrichment_confidence', 'industry', 'seniority',
        'job_function', 'spam_signals', 'intent', 'intent_source', 'intent_confidence', 'policy_flag',
        'summary', 'high_impact_allowed', 'disposition', 'reason', 'rule_id', 'team', 'owner_id',
        'previous_owner_id', 'sla_minutes', 'first_received_at', 'last_received_at', 'decided_at',
        'decided_by', 'override_id',
    ]) }}
{%- endmacro %}

{% macro select_lead_decision_columns(relation, replace={}) -%}
    {#- A select list of every lead_decisions column, in table order, read from `relation` (a CTE or
        alias) unless `replace` gives the column an expression. Every branch of a `union all` rendered by
        it has the same columns in the same order, which positional unions need. -#}
    {%- for column in replace if column not in lead_decision_columns() %}
        {{ exceptions.raise_compiler_error("select_lead_decision_columns: no lead_decisions column " ~ column) }}
    {%- endfor %}
    {%- for column in lead_decision_columns() %}
        {{ replace[column] ~ ' as ' ~ column if column in replace else relation ~ '.' ~ column }}
        {{- ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
