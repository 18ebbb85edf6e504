-- Leads not decided yet because their company lookup failed transiently and the rule that would decide
-- them reads the segment: visible here with the enrichment status and deadline. The enrichment retry
-- sensor reruns the pipeline when a retry is due; at the deadline the lead proceeds (segment_unknown).
with leads as (
    select * from {{ ref('int_assign_lead_territories') }}
),

rule_decisions as (
    select * from {{ ref('int_evaluate_routing_rules') }}
),

decisions as (
    select * from {{ ref('lead_decisions') }}
)

select
    leads.lead_id,
    leads.email,
    leads.company,
    leads.company_domain,
    leads.enrichment_status,
    leads.enrichment_deadline_at,
    rule_decisions.rule_id as pending_rule_id,
    leads.first_received_at
from leads
inner join rule_decisions
    on leads.lead_id = rule_decisions.lead_id
left join decisions
    on leads.lead_id = decisions.lead_id
where
    decisions.lead_id is null
    and leads.is_waiting_for_enrichment
    and rule_decisions.waits_for_enrichment
