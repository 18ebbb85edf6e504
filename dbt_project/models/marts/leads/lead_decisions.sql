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
        leads.last_received_at
    from leads
    left join rule_decisions
        on leads.lead_id = rule_decisions.lead_id
    left join slas
        on leads.lead_id = slas.lead_id
),

previous_decisions as (
    {% if is_incremental() %}
        select * from {{ this }}
    {% else %}
        -- First build: nothing has been decided yet.
        select
            *,
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
    where previous_decisions.lead_id is null
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
        country_code,
        region,
        segment,
        employees,
        industry,
        spam_signals,
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
        sla_minutes,
        first_received_at,
        last_received_at,
        cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }}) as decided_at
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
            previous_decisions.country_code,
            previous_decisions.region,
            previous_decisions.segment,
            previous_decisions.employees,
            previous_decisions.industry,
            previous_decisions.spam_signals,
            previous_decisions.disposition,
            previous_decisions.reason,
            previous_decisions.rule_id,
            previous_decisions.team,
            previous_decisions.owner_id,
            previous_decisions.sla_minutes,
            previous_decisions.first_received_at,
            current_leads.last_received_at,
            previous_decisions.decided_at
        from previous_decisions
        inner join current_leads
            on previous_decisions.lead_id = current_leads.lead_id
        where current_leads.event_ids <> previous_decisions.event_ids
    ),
{% endif %}

all_rows as (
    select * from decided
    {% if is_incremental() %}
        union all
        select * from resubmitted
    {% endif %}
)

select * from all_rows
