-- lead_decisions counts earlier round-robin assignments by the rule ids in macro round_robin_rule_ids.
-- A routed decision leaves the owner open exactly when its rule is in that list; a rule added to
-- int_evaluate_routing_rules without updating the macro (or the reverse) fails here.
select
    lead_id,
    rule_id,
    owner_id
from {{ ref('int_evaluate_routing_rules') }}
where
    disposition = 'route'
    and (
        (owner_id is null and rule_id not in {{ round_robin_rule_ids() }})
        or (owner_id is not null and rule_id in {{ round_robin_rule_ids() }})
    )
