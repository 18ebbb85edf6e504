-- Round robin draws the owner of the rules in macro round_robin_rule_ids (every rule whose kind does not
-- name its owner).
-- It reads routing_rules too, so the meta names the model it checks: Dagster then reports it as that
-- model's blocking check instead of an observation with a notice.
{{ config(meta={'dagster': {'ref': {'name': 'int_evaluate_routing_rules'}}}) }}

-- A routed decision leaves the owner open exactly when its rule is in that list; a kind added to
-- int_evaluate_routing_rules that names its owner without being listed in macro named_owner_rule_kinds
-- (or the reverse) fails here.
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
