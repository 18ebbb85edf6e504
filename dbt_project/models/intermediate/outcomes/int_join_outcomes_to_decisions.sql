-- One row per routed lead: its decision (rule, rules version, team, owner, source, segment, intent), the
-- evidence it rested on and how sure each piece was (intent and its source, the identity link and its
-- probability, where the company size came from and the enrichment confidence), what happened after
-- (int_summarise_lead_outcomes) and the outcome rules of the policy seed outcome_policy:
-- a lead a person reassigned within misroute_window_days of its decision counts as misrouted; a lead
-- counts as qualified once it reached status qualified or converted, a meeting or an opportunity.
with decisions as (
    select * from {{ ref('lead_decisions') }}
),

state_log as (
    select * from {{ ref('stg_feedback__lead_state_log') }}
),

outcomes as (
    select * from {{ ref('int_summarise_lead_outcomes') }}
),

lead_events as (
    select * from {{ ref('int_identify_lead_events') }}
),

event_matches as (
    select * from {{ ref('stg_identity__event_matches') }}
),

-- How sure splink was when it linked the lead to a CRM contact (the best of its linking events).
contact_links as (
    select
        lead_events.lead_id,
        max(event_matches.person_match_probability) as contact_match_probability
    from lead_events
    inner join event_matches
        on lead_events.event_id = event_matches.event_id
    where
        event_matches.person_decision = 'linked'
        and event_matches.person_candidate_source = 'crm_contact'
    group by lead_events.lead_id
),

policy as (
    select max(case when setting = 'misroute_window_days' then value end) as misroute_window_days
    from {{ ref('outcome_policy') }}
),

-- The rules version in force when the pipeline first logged the lead's decision.
rules_versions as (
    select
        lead_id,
        rules_version,
        row_number() over (partition by lead_id order by logged_at, seq) as position
    from state_log
)

select
    decisions.lead_id,
    decisions.source,
    coalesce(decisions.segment, 'unknown') as segment,
    coalesce(decisions.intent, 'unknown') as intent,
    decisions.intent_source,
    decisions.intent_confidence,
    decisions.match_method,
    decisions.account_match_probability,
    contact_links.contact_match_probability,
    decisions.employees_source,
    decisions.enrichment_confidence,
    decisions.rule_id,
    coalesce(rules_versions.rules_version, 'unknown') as rules_version,
    coalesce(decisions.team, 'none') as team,
    decisions.owner_id,
    decisions.first_received_at,
    decisions.decided_at,
    outcomes.lead_id is not null as has_outcomes,
    outcomes.first_touch_at,
    outcomes.first_person_reassigned_at,
    coalesce(outcomes.reassignments, 0) as reassignments,
    outcomes.current_status,
    coalesce(outcomes.meetings, 0) as meetings,
    coalesce(outcomes.meetings_held, 0) as meetings_held,
    coalesce(outcomes.meetings_no_show, 0) as meetings_no_show,
    coalesce(outcomes.opportunities, 0) as opportunities,
    coalesce(outcomes.pipeline_value, 0) as pipeline_value,
    coalesce(outcomes.won_value, 0) as won_value,
    coalesce(outcomes.is_converted, false) as is_converted,
    coalesce(outcomes.is_marked_spam, false) as is_marked_spam,
    coalesce(outcomes.is_marked_wrong_routing, false) as is_marked_wrong_routing,
    coalesce(outcomes.is_marked_wrong_account, false) as is_marked_wrong_account,
    coalesce(
        outcomes.first_person_reassigned_at is not null
        and {{ dbt.datediff('decisions.decided_at', 'outcomes.first_person_reassigned_at', 'second') }}
        <= policy.misroute_window_days * 86400,
        false
    ) as is_misrouted,
    coalesce(
        outcomes.current_status in ('qualified', 'converted')
        or outcomes.is_converted
        or outcomes.meetings > 0
        or outcomes.opportunities > 0,
        false
    ) as is_qualified
from decisions
left join rules_versions
    on decisions.lead_id = rules_versions.lead_id and rules_versions.position = 1
left join outcomes
    on decisions.lead_id = outcomes.lead_id
left join contact_links
    on decisions.lead_id = contact_links.lead_id
cross join policy
where decisions.disposition = 'route' and decisions.owner_id is not null
