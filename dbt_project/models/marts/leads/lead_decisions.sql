{{
    config(
        materialized='incremental',
        unique_key='lead_id',
        on_schema_change='append_new_columns',
    )
}}

-- One row per lead: who gets it and why. A decided lead keeps its decision on later runs (owner, rule,
-- reason, decided_at); when the same person writes in again only event_ids, last_received_at and the
-- contact details are refreshed.
--
-- The steps live in their own models: the routing rules (int_evaluate_routing_rules, which also says
-- which leads still wait for enrichment: those show in lead_waits instead), round robin
-- (int_assign_round_robin_owners) and the operator's overrides (int_select_pending_lead_overrides).
-- Here: keep earlier decisions, escalate team-routed leads nobody can take, apply the overrides, and
-- gate the high-impact actions. Every branch renders its columns from macro lead_decision_columns.
with leads as (
    select * from {{ ref('int_assign_lead_territories') }}
),

rule_decisions as (
    select * from {{ ref('int_evaluate_routing_rules') }}
),

round_robin_owners as (
    select * from {{ ref('int_assign_round_robin_owners') }}
),

pending_overrides as (
    select * from {{ ref('int_select_pending_lead_overrides') }}
),

slas as (
    select * from {{ ref('int_assign_lead_slas') }}
),

teams as (
    select * from {{ ref('teams') }}
),

intents as (
    select * from {{ ref('int_decide_lead_intents') }}
),

thresholds as (
    select max(case when threshold = 'high_impact_min_confidence' then value end) as high_impact_min_confidence
    from {{ ref('decision_thresholds') }}
),

current_leads as (
    select
        leads.lead_id,
        leads.event_ids,
        leads.email,
        leads.first_name,
        leads.last_name,
        leads.company,
        leads.source,
        leads.account_id,
        leads.account_name,
        leads.contact_id,
        leads.match_method,
        leads.country_code,
        leads.region,
        leads.segment,
        leads.employees,
        leads.industry,
        leads.spam_signals,
        rule_decisions.disposition,
        rule_decisions.reason,
        rule_decisions.rule_id,
        rule_decisions.team,
        rule_decisions.owner_id,
        slas.sla_minutes,
        leads.first_received_at,
        leads.last_received_at,
        leads.employees_source,
        leads.employees_reported,
        leads.enrichment_status,
        leads.enrichment_confidence,
        leads.account_match_probability,
        leads.person_review_candidate_person_id,
        leads.person_review_probability,
        leads.account_review_candidate_id,
        leads.account_review_probability,
        leads.seniority,
        leads.job_function,
        intents.intent,
        intents.intent_source,
        intents.intent_confidence,
        intents.policy_flag,
        intents.summary,
        -- High-impact actions (automatic reply, meeting booking) need high confidence AND low risk.
        coalesce(
            rule_decisions.disposition = 'route'
            and intents.intent in ('demo_request', 'pricing')
            and (intents.intent_source = 'rule' or intents.intent_confidence >= thresholds.high_impact_min_confidence)
            and intents.policy_flag is null
            and leads.person_review_candidate_person_id is null
            and leads.account_review_candidate_id is null,
            false
        ) as high_impact_allowed,
        coalesce(rule_decisions.is_waiting, false) as is_waiting
    from leads
    left join rule_decisions
        on leads.lead_id = rule_decisions.lead_id
    left join slas
        on leads.lead_id = slas.lead_id
    left join intents
        on leads.lead_id = intents.lead_id
    cross join thresholds
),

previous_decisions as (
    {% if is_incremental() %}
        select * from {{ this }}
    {% else %}
        -- First build: nothing has been decided yet.
        select lead_id
        from current_leads
        where 1 = 0
    {% endif %}
),

new_leads as (
    select current_leads.*
    from current_leads
    left join previous_decisions
        on current_leads.lead_id = previous_decisions.lead_id
    where
        previous_decisions.lead_id is null
        and not current_leads.is_waiting
),

new_decisions as (
    select
        new_leads.*,
        (
            new_leads.disposition = 'route'
            and new_leads.owner_id is null
            and round_robin_owners.owner_id is null
        ) as has_no_owner,
        round_robin_owners.owner_id as round_robin_owner_id,
        teams.escalation_queue
    from new_leads
    left join round_robin_owners
        on new_leads.lead_id = round_robin_owners.lead_id
    left join teams
        on new_leads.team = teams.team
),

{%- set no_owner_reason = dbt.concat([
    "'team '", "coalesce(new_decisions.team, 'none')", "' has no active owner: escalate to '",
    "coalesce(new_decisions.escalation_queue, 'revops')", "' (was: '", "new_decisions.reason", "')'",
]) %}

decided as (
    select
        {{ select_lead_decision_columns('new_decisions', replace={
            'disposition': "case when new_decisions.has_no_owner then 'escalate' else new_decisions.disposition end",
            'reason': "case when new_decisions.has_no_owner then " ~ no_owner_reason ~ " else new_decisions.reason end",
            'rule_id': "case when new_decisions.has_no_owner then 'no_active_owner' else new_decisions.rule_id end",
            'owner_id': "coalesce(new_decisions.owner_id, new_decisions.round_robin_owner_id)",
            'previous_owner_id': "cast(null as " ~ dbt.type_string() ~ ")",
            'decided_at': decision_time(),
            'decided_by': "'leadops-pipeline'",
            'override_id': "cast(null as " ~ dbt.type_string() ~ ")",
        }) }}
    from new_decisions
),

{% if is_incremental() %}
    -- Leads decided on an earlier run that wrote in again: new events, same decision.
    resubmitted as (
        select
            {{ select_lead_decision_columns('previous_decisions', replace={
                'event_ids': 'current_leads.event_ids',
                'email': 'current_leads.email',
                'first_name': 'current_leads.first_name',
                'last_name': 'current_leads.last_name',
                'company': 'current_leads.company',
                'last_received_at': 'current_leads.last_received_at',
            }) }}
        from previous_decisions
        inner join current_leads
            on previous_decisions.lead_id = current_leads.lead_id
        where current_leads.event_ids <> previous_decisions.event_ids
    ),

    -- Earlier decisions an operator overrode since they were last written (and that did not write in).
    overridden_earlier as (
        select
            {{ select_lead_decision_columns('previous_decisions') }}
        from previous_decisions
        inner join pending_overrides
            on previous_decisions.lead_id = pending_overrides.lead_id
        where previous_decisions.lead_id not in (select resubmitted.lead_id from resubmitted)
    ),
{% endif %}

automated_rows as (
    select * from decided
    {% if is_incremental() %}
        union all
        select * from resubmitted
        union all
        select * from overridden_earlier
    {% endif %}
),

-- The operator's override replaces the outcome and records who (decided_by) and which override; the state
-- log records it as a transition by that actor.
with_overrides as (
    select
        automated_rows.*,
        pending_overrides.override_id as new_override_id,
        pending_overrides.action as override_action,
        pending_overrides.actor as override_actor,
        pending_overrides.reason as override_reason,
        pending_overrides.owner_id as override_owner_id,
        pending_overrides.team as override_team
    from automated_rows
    left join pending_overrides
        on automated_rows.lead_id = pending_overrides.lead_id
),

{%- set override_reason = dbt.concat([
    "'override '", "with_overrides.new_override_id", "' by '", "with_overrides.override_actor", "': '",
    "with_overrides.override_reason",
    "case when with_overrides.override_action <> 'disqualify' and with_overrides.override_owner_id is null"
    ~ " then ' (no active owner found: escalated)' else '' end",
]) %}
{%- set overridden = "with_overrides.new_override_id is not null" %}

final as (
    select
        {{ select_lead_decision_columns('with_overrides', replace={
            'disposition': "case"
                ~ " when with_overrides.override_action = 'disqualify' then 'disqualify'"
                ~ " when with_overrides.override_action is not null"
                ~ " and with_overrides.override_owner_id is null then 'escalate'"
                ~ " when with_overrides.override_action is not null then 'route'"
                ~ " else with_overrides.disposition end",
            'reason': "case when " ~ overridden ~ " then " ~ override_reason ~ " else with_overrides.reason end",
            'rule_id': "case when " ~ overridden ~ " then 'override' else with_overrides.rule_id end",
            'team': "case when " ~ overridden ~ " then with_overrides.override_team else with_overrides.team end",
            'owner_id': "case when " ~ overridden
                ~ " then with_overrides.override_owner_id else with_overrides.owner_id end",
            'previous_owner_id': "case when " ~ overridden
                ~ " then with_overrides.owner_id else with_overrides.previous_owner_id end",
            'decided_at': "case when " ~ overridden
                ~ " then " ~ decision_time()
                ~ " else with_overrides.decided_at end",
            'decided_by': "case when " ~ overridden
                ~ " then with_overrides.override_actor else with_overrides.decided_by end",
            'override_id': "coalesce(with_overrides.new_override_id, with_overrides.override_id)",
        }) }}
    from with_overrides
)

select * from final
