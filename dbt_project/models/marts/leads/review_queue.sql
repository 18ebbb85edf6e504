-- The human review queue: every escalated lead not yet resolved by an operator's override, with why
-- (rule and reason), the evidence a reviewer needs (identity candidates and probabilities, enrichment,
-- intent) and a suggested action. Resolving = `leadops override reroute|disqualify ...`.
with decisions as (
    select * from {{ ref('lead_decisions') }}
),

suggestions as (
    select
        lead_id,
        case rule_id
            when 'low_confidence_match' then 'confirm or reject the candidate match, then reroute'
            when 'conflicting_ownership' then 'pick the owner: contact owner or account owner'
            when 'policy_sensitive' then 'hand to legal/privacy/security per the flag; no sales follow-up'
            when 'unclear_intent' then 'read the message and reclassify the intent or reroute'
            when 'segment_unknown' then 'size the company (correct employees) or reroute to a team'
            when 'no_active_owner' then 'assign an owner of the team or reroute to another team'
            when 'account_owner_inactive' then 'reassign the account in the CRM, then reroute the lead'
            else 'route or disqualify'
        end as suggested_action
    from decisions
)

select
    decisions.lead_id,
    decisions.rule_id as escalation_reason,
    decisions.reason,
    decisions.email,
    decisions.company,
    decisions.source,
    decisions.account_id,
    decisions.person_review_candidate_person_id,
    decisions.person_review_probability,
    decisions.account_review_candidate_id,
    decisions.account_review_probability,
    decisions.enrichment_status,
    decisions.intent,
    decisions.intent_confidence,
    decisions.policy_flag,
    decisions.summary,
    suggestions.suggested_action,
    decisions.decided_at as escalated_at
from decisions
inner join suggestions
    on decisions.lead_id = suggestions.lead_id
where decisions.disposition = 'escalate'
