-- Routing accuracy by decision week, rule, rules version, team, source and segment: the share of routed
-- leads nobody had to reassign by hand within the policy window (outcome_policy.misroute_window_days).
with leads as (
    select * from {{ ref('int_join_outcomes_to_decisions') }}
)

select
    cast({{ dbt.date_trunc('week', 'decided_at') }} as date) as decided_week,
    rule_id,
    rules_version,
    team,
    source,
    segment,
    count(*) as routed_leads,
    sum(case when is_misrouted then 1 else 0 end) as misrouted_leads,
    sum(case when is_marked_wrong_routing then 1 else 0 end) as marked_wrong_routing,
    1.0 - sum(case when is_misrouted then 1 else 0 end) * 1.0 / count(*) as routing_accuracy
from leads
group by 1, 2, 3, 4, 5, 6
