-- Everything that happened to a lead, one row per happening, in time order: each event received, its
-- identity link and every merge or unmerge of its records, the enrichment, the interpretation of the
-- message, overrides, the decision, then what the Python steps did after dbt: state transitions, outbox
-- actions, CRM writes and CRM conflicts. `leadops explain` prints these rows; it holds no query of its own.
-- A view: ops.lead_state_log, ops.outbox_actions, ops.crm_writes and ops.crm_conflicts are written after
-- dbt's decide step, and a table built then would always be one run behind them.
with lead_events as (
    select * from {{ ref('lead_events') }}
),

inbound_events as (
    select * from {{ ref('stg_leadops_raw__inbound_events') }}
),

event_matches as (
    select * from {{ ref('stg_identity__event_matches') }}
),

person_assignments as (
    select * from {{ ref('stg_identity__person_assignments') }}
),

enriched as (
    select * from {{ ref('int_enrich_leads') }}
),

firmographics as (
    select * from {{ ref('stg_enrichment__domain_firmographics') }}
),

intents as (
    select * from {{ ref('int_decide_lead_intents') }}
),

decisions as (
    select * from {{ ref('lead_decisions') }}
),

overrides as (
    select * from {{ ref('stg_leadops_operator__overrides') }}
),

state_log as (
    select * from {{ ref('stg_feedback__lead_state_log') }}
),

outbox_actions as (
    select * from {{ ref('stg_feedback__outbox_actions') }}
),

crm_writes as (
    select * from {{ ref('stg_feedback__crm_writes') }}
),

crm_conflicts as (
    select * from {{ ref('stg_feedback__crm_conflicts') }}
),

leads as (
    select distinct lead_id
    from lead_events
),

received as (
    select
        lead_events.lead_id,
        inbound_events.received_at as occurred_at,
        1 as step_order,
        'event_received' as step,
        inbound_events.event_id as subject_id,
        'received' as status,
        cast(null as {{ dbt.type_string() }}) as actor,
        cast(null as {{ dbt.type_string() }}) as rule_id,
        {{ dbt.concat([
            "coalesce(inbound_events.source, '-')", "' ('", "coalesce(inbound_events.file_name, '-')", "':'",
            "coalesce(" ~ as_text('inbound_events.line_number') ~ ", '-')", "')'",
        ]) }} as detail,
        cast(null as {{ dbt.type_string() }}) as evidence,
        cast(null as {{ dbt.type_string() }}) as flag
    from lead_events
    inner join inbound_events
        on lead_events.event_id = inbound_events.event_id
),

identity_links as (
    select
        lead_events.lead_id,
        event_matches.scored_at as occurred_at,
        2 as step_order,
        'identity_link' as step,
        event_matches.event_id as subject_id,
        event_matches.person_decision as status,
        cast(null as {{ dbt.type_string() }}) as actor,
        cast(null as {{ dbt.type_string() }}) as rule_id,
        {{ dbt.concat([
            "'person '", 'event_matches.person_decision',
            "' candidate '", "coalesce(event_matches.person_candidate_person_id, '-')",
            "' p='", "coalesce(" ~ as_text('event_matches.person_match_probability') ~ ", '-')",
            "'; account '", "coalesce(event_matches.account_decision, '-')",
            "' candidate '", "coalesce(event_matches.account_candidate_id, '-')",
            "' p='", "coalesce(" ~ as_text('event_matches.account_match_probability') ~ ", '-')",
        ]) }} as detail,
        cast(null as {{ dbt.type_string() }}) as evidence,
        case
            when event_matches.person_review_reason is not null
                then {{ dbt.concat(["'person review: '", 'event_matches.person_review_reason']) }}
        end as flag
    from lead_events
    inner join event_matches
        on lead_events.event_id = event_matches.event_id
),

-- Every assignment of every record that is or was this person (the lead id is the person id): merges and
-- an operator's unmerges over time.
lead_records as (
    select distinct
        person_id as lead_id,
        record_id
    from person_assignments
),

identity_changes as (
    select
        lead_records.lead_id,
        person_assignments.valid_from as occurred_at,
        2 as step_order,
        'identity_change' as step,
        person_assignments.record_id as subject_id,
        person_assignments.change as status,
        person_assignments.actor,
        cast(null as {{ dbt.type_string() }}) as rule_id,
        {{ dbt.concat([
            'person_assignments.record_id', "': person '", 'person_assignments.person_id',
            "' '", 'person_assignments.change',
            "coalesce(" ~ dbt.concat(["' override '", 'person_assignments.override_id']) ~ ", '')",
            "' ['", as_text('person_assignments.valid_from'), "' → '",
            "coalesce(" ~ as_text('person_assignments.valid_to') ~ ", 'now')", "']'",
        ]) }} as detail,
        cast(null as {{ dbt.type_string() }}) as evidence,
        cast(null as {{ dbt.type_string() }}) as flag
    from lead_records
    inner join person_assignments
        on lead_records.record_id = person_assignments.record_id
    inner join leads
        on lead_records.lead_id = leads.lead_id
),

enrichment as (
    select
        enriched.lead_id,
        coalesce(firmographics.last_attempt_at, decisions.decided_at) as occurred_at,
        3 as step_order,
        'enrichment' as step,
        enriched.company_domain as subject_id,
        enriched.enrichment_status as status,
        cast(null as {{ dbt.type_string() }}) as actor,
        cast(null as {{ dbt.type_string() }}) as rule_id,
        {{ dbt.concat([
            "'status '", "coalesce(enriched.enrichment_status, '-')",
            "' provider '", "coalesce(enriched.enrichment_provider, '-')",
            "' confidence '", "coalesce(" ~ as_text('enriched.enrichment_confidence') ~ ", '-')",
        ]) }} as detail,
        cast(null as {{ dbt.type_string() }}) as evidence,
        cast(null as {{ dbt.type_string() }}) as flag
    from enriched
    left join decisions
        on enriched.lead_id = decisions.lead_id
    left join firmographics
        on enriched.company_domain = firmographics.domain
),

interpretation as (
    select
        intents.lead_id,
        decisions.decided_at as occurred_at,
        4 as step_order,
        'interpretation' as step,
        coalesce(intents.intent_rule_id, intents.intent_override_id, intents.model_backend) as subject_id,
        intents.intent as status,
        cast(null as {{ dbt.type_string() }}) as actor,
        intents.intent_rule_id as rule_id,
        {{ dbt.concat([
            "'intent '", "coalesce(intents.intent, '-')",
            "' via '", "coalesce(intents.intent_source, '-')",
            "' ('", "coalesce(intents.intent_rule_id, intents.intent_override_id, intents.model_backend, '-')",
            "') confidence '", "coalesce(" ~ as_text('intents.intent_confidence') ~ ", '-')",
            "' policy flag '", "coalesce(intents.policy_flag, 'none')",
        ]) }} as detail,
        intents.model_error as evidence,
        case
            when intents.injection_suspected
                then {{ dbt.concat([
                    "'injection suspected (rule '", "coalesce(intents.injection_rule_id, '-')",
                    "'): the message decided nothing'",
                ]) }}
        end as flag
    from intents
    left join decisions
        on intents.lead_id = decisions.lead_id
    where intents.intent is not null or intents.injection_suspected
),

lead_overrides as (
    select
        leads.lead_id,
        overrides.*
    from overrides
    inner join leads
        on overrides.scope = 'lead' and overrides.target_id = leads.lead_id
    union all
    select
        lead_events.lead_id,
        overrides.*
    from overrides
    inner join lead_events
        on overrides.scope = 'event' and overrides.target_id = lead_events.event_id
    union all
    select
        decisions.lead_id,
        overrides.*
    from overrides
    inner join decisions
        on overrides.scope = 'account' and overrides.target_id = decisions.account_id
),

revokes as (
    select
        value as revoked_override_id,
        override_id as revoked_by
    from overrides
    where action = 'revoke'
),

override_steps as (
    select
        lead_overrides.lead_id,
        lead_overrides.created_at as occurred_at,
        5 as step_order,
        'override' as step,
        lead_overrides.override_id as subject_id,
        case
            when lead_overrides.action = 'revoke' then 'revoke'
            when revokes.revoked_by is not null then 'revoked'
            else 'loaded'
        end as status,
        lead_overrides.actor,
        cast(null as {{ dbt.type_string() }}) as rule_id,
        {{ dbt.concat([
            'lead_overrides.action', "' '", "coalesce(lead_overrides.value, '')",
            "' on '", 'lead_overrides.scope', "' '", "coalesce(lead_overrides.target_id, '')",
            "coalesce(" ~ dbt.concat(["' (revoked by '", 'revokes.revoked_by', "')'"]) ~ ", '')",
        ]) }} as detail,
        lead_overrides.reason as evidence,
        cast(null as {{ dbt.type_string() }}) as flag
    from lead_overrides
    left join revokes
        on lead_overrides.override_id = revokes.revoked_override_id
),

decision_steps as (
    select
        lead_id,
        decided_at as occurred_at,
        6 as step_order,
        'decision' as step,
        rule_id as subject_id,
        disposition as status,
        decided_by as actor,
        rule_id,
        {{ dbt.concat([
            'disposition', "' — rule '", 'rule_id',
            "' team '", "coalesce(team, '-')", "' owner '", "coalesce(owner_id, '-')",
        ]) }} as detail,
        reason as evidence,
        cast(null as {{ dbt.type_string() }}) as flag
    from decisions
),

transitions as (
    select
        lead_id,
        logged_at as occurred_at,
        7 as step_order,
        'state_transition' as step,
        {{ as_text('seq') }} as subject_id,
        to_state as status,
        actor,
        cast(null as {{ dbt.type_string() }}) as rule_id,
        {{ dbt.concat([
            "coalesce(from_state, '∅')", "' → '", 'to_state', "' (rules '", "coalesce(rules_version, '-')", "')'",
        ]) }} as detail,
        evidence_json as evidence,
        cast(null as {{ dbt.type_string() }}) as flag
    from state_log
),

outbox as (
    select
        lead_id,
        enqueued_at as occurred_at,
        8 as step_order,
        'outbox_action' as step,
        action_id as subject_id,
        action_status as status,
        cast(null as {{ dbt.type_string() }}) as actor,
        cast(null as {{ dbt.type_string() }}) as rule_id,
        {{ dbt.concat([
            'kind', "' '", 'external_id', "': '", 'action_status',
            "' after '", as_text('attempts'), "' attempt(s), updated '", as_text('updated_at'),
        ]) }} as detail,
        last_error as evidence,
        cast(null as {{ dbt.type_string() }}) as flag
    from outbox_actions
),

writes as (
    select
        lead_id,
        written_at as occurred_at,
        9 as step_order,
        'crm_write' as step,
        external_id as subject_id,
        write_status as status,
        cast(null as {{ dbt.type_string() }}) as actor,
        cast(null as {{ dbt.type_string() }}) as rule_id,
        {{ dbt.concat([
            'operation', "' '", 'external_id', "' → '", "coalesce(crm_object_type, '-')", "'/'",
            "coalesce(crm_record_id, '-')", "': '", 'write_status',
            "' after '", as_text('attempts'), "' attempt(s)'",
        ]) }} as detail,
        write_error as evidence,
        cast(null as {{ dbt.type_string() }}) as flag
    from crm_writes
),

conflicts as (
    select
        lead_id,
        detected_at as occurred_at,
        10 as step_order,
        'crm_conflict' as step,
        action_id as subject_id,
        'conflict' as status,
        changed_by as actor,
        cast(null as {{ dbt.type_string() }}) as rule_id,
        {{ dbt.concat([
            'field_name', "': LeadOps '", "coalesce(leadops_value, '-')", "', CRM '", "coalesce(crm_value, '-')",
            "' (changed by '", "coalesce(changed_by, '-')", "' at '",
            "coalesce(" ~ as_text('changed_at') ~ ", '-')", "')'",
        ]) }} as detail,
        cast(null as {{ dbt.type_string() }}) as evidence,
        {{ dbt.concat(["'a person changed the '", 'field_name', "' in the CRM'"]) }} as flag
    from crm_conflicts
),

happenings as (
    select * from received
    union all
    select * from identity_links
    union all
    select * from identity_changes
    union all
    select * from enrichment
    union all
    select * from interpretation
    union all
    select * from override_steps
    union all
    select * from decision_steps
    union all
    select * from transitions
    union all
    select * from outbox
    union all
    select * from writes
    union all
    select * from conflicts
)

select
    lead_id,
    -- nulls last, spelled out: DuckDB's default, while Spark puts nulls first in an ascending order.
    row_number() over (
        partition by lead_id
        order by occurred_at nulls last, step_order nulls last, subject_id nulls last, detail nulls last
    ) as position,
    occurred_at,
    step,
    subject_id,
    status,
    actor,
    rule_id,
    detail,
    evidence,
    flag
from happenings
