-- The human review queue: every escalated lead not yet resolved by an operator's override, with why
-- (rule and reason), the evidence a reviewer needs (identity candidates and probabilities, enrichment,
-- intent) and a suggested action. Resolving = `leadops override reroute|disqualify ...`.
-- Also every open CRM conflict (escalation_reason crm_conflict): a person changed in the CRM the owner or
-- status an outbox action would have overwritten; LeadOps' value and the CRM's are both shown, and the
-- action waits (status conflict) until an operator decides. A view, because the outbound stage records
-- conflicts after dbt's decide step: a table would show them one run late.
{{ config(materialized='view') }}

with decisions as (
    select * from {{ ref('lead_decisions') }}
),

conflicts as (
    select * from {{ ref('stg_feedback__crm_conflicts') }}
),

outbox_actions as (
    select * from {{ ref('stg_feedback__outbox_actions') }}
),

open_conflicts as (
    select
        conflicts.*,
        row_number() over (
            partition by conflicts.action_id, conflicts.field_name
            order by conflicts.detected_at desc
        ) as recency
    from conflicts
    inner join outbox_actions
        on conflicts.action_id = outbox_actions.action_id
    where outbox_actions.action_status = 'conflict'
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
    decisions.decided_at as escalated_at,
    cast(null as {{ dbt.type_string() }}) as conflict_action_id,
    cast(null as {{ dbt.type_string() }}) as conflict_field,
    cast(null as {{ dbt.type_string() }}) as leadops_value,
    cast(null as {{ dbt.type_string() }}) as crm_value,
    cast(null as {{ dbt.type_string() }}) as crm_changed_by
from decisions
inner join suggestions
    on decisions.lead_id = suggestions.lead_id
where decisions.disposition = 'escalate'

union all

select
    decisions.lead_id,
    'crm_conflict' as escalation_reason,
    {{ dbt.concat([
        "'a person changed the '", 'open_conflicts.field_name', "' in the CRM: LeadOps '",
        "coalesce(open_conflicts.leadops_value, '-')", "', CRM '", "coalesce(open_conflicts.crm_value, '-')",
    ]) }} as reason,
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
    {{ dbt.concat([
        "'keep the CRM value: leadops actions cancel '", 'open_conflicts.action_id',
        "'; or set it back in the CRM, then leadops actions retry '", 'open_conflicts.action_id',
    ]) }} as suggested_action,
    open_conflicts.detected_at as escalated_at,
    open_conflicts.action_id as conflict_action_id,
    open_conflicts.field_name as conflict_field,
    open_conflicts.leadops_value,
    open_conflicts.crm_value,
    open_conflicts.changed_by as crm_changed_by
from open_conflicts
inner join decisions
    on open_conflicts.lead_id = decisions.lead_id
where open_conflicts.recency = 1
