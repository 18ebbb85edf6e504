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
-- Waiting: a lead whose winning rule reads the segment (routing_rules.waits_for_enrichment) while its
-- company lookup failed transiently is not decided yet; it shows in lead_waits until enrichment answers or
-- the deadline passes (then segment_unknown escalates it).
--
-- Overrides win: an operator's latest reroute_owner / reroute_team / disqualify override for a lead
-- (int_resolve_active_overrides) replaces the decision on the next run, whatever automation decided, and
-- records who (decided_by) and which override; the state log records it as a transition by that actor.
--
-- Round robin: new leads routed to a team without a named owner are dealt among the team's active owners
-- (capacity 0 parks an owner, see crm models). Deterministic: new leads in order of first_received_at,
-- lead_id; owners in order of their earlier round-robin assignments in this table, then owner_id; the
-- k-th new lead of a team goes to owner slot k mod n. Dealing to the least-loaded owners first keeps every
-- owner's count within 1 of the others across batches. A team with no eligible owner escalates
-- (rule_id no_active_owner).
with leads as (
    select * from {{ ref('int_assign_lead_territories') }}
),

rule_decisions as (
    select * from {{ ref('int_evaluate_routing_rules') }}
),

slas as (
    select * from {{ ref('int_assign_lead_slas') }}
),

owners as (
    select * from {{ ref('stg_crm__owners') }}
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

disposition_overrides as (
    select
        *,
        row_number() over (partition by target_id order by created_at desc, override_id desc) as recency
    from {{ ref('int_resolve_active_overrides') }}
    where
        scope = 'lead'
        and action in ('reroute_owner', 'reroute_team', 'disqualify')
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
        coalesce(rule_decisions.waits_for_enrichment and leads.is_waiting_for_enrichment, false) as is_waiting
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
        select
            lead_id,
            event_ids,
            rule_id,
            team,
            owner_id,
            cast(null as {{ dbt.type_string() }}) as override_id,
            cast(null as {{ dbt.type_timestamp() }}) as decided_at
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

round_robin_leads as (
    select
        lead_id,
        team,
        row_number() over (partition by team order by first_received_at, lead_id) - 1 as lead_slot
    from new_leads
    where
        disposition = 'route'
        and owner_id is null
        and team is not null
),

earlier_assignments as (
    select
        owner_id,
        team,
        count(*) as assigned_count
    from previous_decisions
    where rule_id in {{ round_robin_rule_ids() }}
    group by owner_id, team
),

eligible_owners as (
    select
        owners.owner_id,
        owners.team,
        row_number() over (
            partition by owners.team
            order by coalesce(earlier_assignments.assigned_count, 0), owners.owner_id
        ) - 1 as owner_slot,
        count(*) over (partition by owners.team) as team_size
    from owners
    left join earlier_assignments
        on
            owners.owner_id = earlier_assignments.owner_id
            and owners.team = earlier_assignments.team
    where
        owners.is_active
        and coalesce(owners.capacity, 1) > 0
),

round_robin_owners as (
    select
        round_robin_leads.lead_id,
        eligible_owners.owner_id
    from round_robin_leads
    inner join eligible_owners
        on
            round_robin_leads.team = eligible_owners.team
            and mod(round_robin_leads.lead_slot, eligible_owners.team_size) = eligible_owners.owner_slot
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

decided as (
    select
        lead_id,
        event_ids,
        email,
        first_name,
        last_name,
        company,
        source,
        account_id,
        account_name,
        contact_id,
        match_method,
        account_match_probability,
        person_review_candidate_person_id,
        person_review_probability,
        account_review_candidate_id,
        account_review_probability,
        country_code,
        region,
        segment,
        employees,
        employees_source,
        employees_reported,
        enrichment_status,
        enrichment_confidence,
        industry,
        seniority,
        job_function,
        spam_signals,
        intent,
        intent_source,
        intent_confidence,
        policy_flag,
        summary,
        high_impact_allowed,
        case when has_no_owner then 'escalate' else disposition end as disposition,
        case
            when has_no_owner
                then {{ dbt.concat([
                    "'team '", "coalesce(team, 'none')", "' has no active owner: escalate to '",
                    "coalesce(escalation_queue, 'revops')", "' (was: '", "reason", "')'",
                ]) }}
            else reason
        end as reason,
        case when has_no_owner then 'no_active_owner' else rule_id end as rule_id,
        team,
        coalesce(owner_id, round_robin_owner_id) as owner_id,
        cast(null as {{ dbt.type_string() }}) as previous_owner_id,
        sla_minutes,
        first_received_at,
        last_received_at,
        cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }}) as decided_at,
        'leadops-pipeline' as decided_by,
        cast(null as {{ dbt.type_string() }}) as override_id
    from new_decisions
),

{% if is_incremental() %}
    -- Leads decided on an earlier run that wrote in again: new events, same decision.
    resubmitted as (
        select
            previous_decisions.lead_id,
            current_leads.event_ids,
            current_leads.email,
            current_leads.first_name,
            current_leads.last_name,
            current_leads.company,
            previous_decisions.source,
            previous_decisions.account_id,
            previous_decisions.account_name,
            previous_decisions.contact_id,
            previous_decisions.match_method,
            previous_decisions.account_match_probability,
            previous_decisions.person_review_candidate_person_id,
            previous_decisions.person_review_probability,
            previous_decisions.account_review_candidate_id,
            previous_decisions.account_review_probability,
            previous_decisions.country_code,
            previous_decisions.region,
            previous_decisions.segment,
            previous_decisions.employees,
            previous_decisions.employees_source,
            previous_decisions.employees_reported,
            previous_decisions.enrichment_status,
            previous_decisions.enrichment_confidence,
            previous_decisions.industry,
            previous_decisions.seniority,
            previous_decisions.job_function,
            previous_decisions.spam_signals,
            previous_decisions.intent,
            previous_decisions.intent_source,
            previous_decisions.intent_confidence,
            previous_decisions.policy_flag,
            previous_decisions.summary,
            previous_decisions.high_impact_allowed,
            previous_decisions.disposition,
            previous_decisions.reason,
            previous_decisions.rule_id,
            previous_decisions.team,
            previous_decisions.owner_id,
            previous_decisions.previous_owner_id,
            previous_decisions.sla_minutes,
            previous_decisions.first_received_at,
            current_leads.last_received_at,
            previous_decisions.decided_at,
            previous_decisions.decided_by,
            previous_decisions.override_id
        from previous_decisions
        inner join current_leads
            on previous_decisions.lead_id = current_leads.lead_id
        where current_leads.event_ids <> previous_decisions.event_ids
    ),

    -- Earlier decisions an operator overrode since they were last written (and that did not write in).
    overridden_earlier as (
        select
            previous_decisions.lead_id,
            previous_decisions.event_ids,
            previous_decisions.email,
            previous_decisions.first_name,
            previous_decisions.last_name,
            previous_decisions.company,
            previous_decisions.source,
            previous_decisions.account_id,
            previous_decisions.account_name,
            previous_decisions.contact_id,
            previous_decisions.match_method,
            previous_decisions.account_match_probability,
            previous_decisions.person_review_candidate_person_id,
            previous_decisions.person_review_probability,
            previous_decisions.account_review_candidate_id,
            previous_decisions.account_review_probability,
            previous_decisions.country_code,
            previous_decisions.region,
            previous_decisions.segment,
            previous_decisions.employees,
            previous_decisions.employees_source,
            previous_decisions.employees_reported,
            previous_decisions.enrichment_status,
            previous_decisions.enrichment_confidence,
            previous_decisions.industry,
            previous_decisions.seniority,
            previous_decisions.job_function,
            previous_decisions.spam_signals,
            previous_decisions.intent,
            previous_decisions.intent_source,
            previous_decisions.intent_confidence,
            previous_decisions.policy_flag,
            previous_decisions.summary,
            previous_decisions.high_impact_allowed,
            previous_decisions.disposition,
            previous_decisions.reason,
            previous_decisions.rule_id,
            previous_decisions.team,
            previous_decisions.owner_id,
            previous_decisions.previous_owner_id,
            previous_decisions.sla_minutes,
            previous_decisions.first_received_at,
            previous_decisions.last_received_at,
            previous_decisions.decided_at,
            previous_decisions.decided_by,
            previous_decisions.override_id
        from previous_decisions
        inner join disposition_overrides
            on
                previous_decisions.lead_id = disposition_overrides.target_id
                and disposition_overrides.recency = 1
        where
            coalesce(previous_decisions.override_id, '') <> disposition_overrides.override_id
            and previous_decisions.lead_id not in (select resubmitted.lead_id from resubmitted)
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

-- The operator's override replaces the outcome. reroute_team deals the lead to the team's active owner with
-- the fewest leads in this table (then owner_id); reroute_owner names the owner.
team_owner_loads as (
    select
        owners.owner_id,
        owners.team,
        row_number() over (
            partition by owners.team order by count(previous_decisions.lead_id), owners.owner_id
        ) as load_rank
    from owners
    left join previous_decisions
        on owners.owner_id = previous_decisions.owner_id
    where owners.is_active
    group by owners.owner_id, owners.team
),

with_overrides as (
    select
        automated_rows.*,
        disposition_overrides.override_id as new_override_id,
        disposition_overrides.action as override_action,
        disposition_overrides.actor as override_actor,
        disposition_overrides.reason as override_reason,
        case
            when disposition_overrides.action = 'reroute_owner' then disposition_overrides.value
            when disposition_overrides.action = 'reroute_team' then team_owner_loads.owner_id
        end as override_owner_id,
        case
            when disposition_overrides.action = 'reroute_owner' then override_owners.team
            when disposition_overrides.action = 'reroute_team' then disposition_overrides.value
        end as override_team
    from automated_rows
    left join disposition_overrides
        on
            automated_rows.lead_id = disposition_overrides.target_id
            and disposition_overrides.recency = 1
            and coalesce(automated_rows.override_id, '') <> disposition_overrides.override_id
    left join owners as override_owners
        on disposition_overrides.value = override_owners.owner_id
    left join team_owner_loads
        on
            disposition_overrides.value = team_owner_loads.team
            and team_owner_loads.load_rank = 1
),

final as (
    select
        lead_id,
        event_ids,
        email,
        first_name,
        last_name,
        company,
        source,
        account_id,
        account_name,
        contact_id,
        match_method,
        account_match_probability,
        person_review_candidate_person_id,
        person_review_probability,
        account_review_candidate_id,
        account_review_probability,
        country_code,
        region,
        segment,
        employees,
        employees_source,
        employees_reported,
        enrichment_status,
        enrichment_confidence,
        industry,
        seniority,
        job_function,
        spam_signals,
        intent,
        intent_source,
        intent_confidence,
        policy_flag,
        summary,
        high_impact_allowed,
        case
            when override_action = 'disqualify' then 'disqualify'
            when override_action is not null and override_owner_id is null then 'escalate'
            when override_action is not null then 'route'
            else disposition
        end as disposition,
        case
            when new_override_id is not null
                then {{ dbt.concat([
                    "'override '", "new_override_id", "' by '", "override_actor", "': '", "override_reason",
                    "case when override_action <> 'disqualify' and override_owner_id is null"
                    ~ " then ' (no active owner found: escalated)' else '' end",
                ]) }}
            else reason
        end as reason,
        case when new_override_id is not null then 'override' else rule_id end as rule_id,
        case when new_override_id is not null then override_team else team end as team,
        case when new_override_id is not null then override_owner_id else owner_id end as owner_id,
        case when new_override_id is not null then owner_id else previous_owner_id end as previous_owner_id,
        sla_minutes,
        first_received_at,
        last_received_at,
        case
            when new_override_id is not null
                then cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }})
            else decided_at
        end as decided_at,
        case when new_override_id is not null then override_actor else decided_by end as decided_by,
        coalesce(new_override_id, override_id) as override_id
    from with_overrides
)

select * from final
