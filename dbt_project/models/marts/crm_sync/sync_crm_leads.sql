-- The outbound payload: one row per lead to write to the CRM. Spam never reaches the CRM. Routed leads
-- get a first-touch task for their owner, due sla_minutes after the decision; every lead gets a note with
-- the reason and the rule that decided it. Automation paused by an operator (for the lead, its account or
-- globally: pause_automation overrides) writes nothing until resumed; lead_automation_pauses lists them.
with decisions as (
    select * from {{ ref('lead_decisions') }}
),

leads as (
    select * from {{ ref('int_identify_leads') }}
),

pauses as (
    select * from {{ ref('lead_automation_pauses') }}
),

payload as (
    select
        decisions.lead_id,
        decisions.email,
        -- Current values, so an operator's correct_field override reaches the CRM on the next run.
        coalesce(leads.first_name, decisions.first_name) as first_name,
        coalesce(leads.last_name, decisions.last_name) as last_name,
        coalesce(leads.company, decisions.company) as company,
        leads.job_title,
        leads.phone_e164,
        coalesce(leads.country_code, decisions.country_code) as country_code,
        decisions.account_id,
        decisions.contact_id,
        decisions.disposition,
        case decisions.disposition
            when 'route' then 'routed'
            when 'escalate' then 'escalated'
            when 'disqualify' then 'disqualified'
        end as lead_status,
        decisions.rule_id,
        decisions.reason,
        decisions.team,
        decisions.owner_id,
        case
            when decisions.disposition = 'route'
                then {{ dbt.concat([
                    "'First touch: '",
                    "coalesce(nullif(trim(" ~ dbt.concat([
                        "coalesce(decisions.first_name, '')", "' '", "coalesce(decisions.last_name, '')"
                    ]) ~ "), ''), decisions.email, decisions.lead_id)",
                    "' ('", "coalesce(decisions.source, 'unknown source')", "')'",
                ]) }}
        end as task_subject,
        case
            when decisions.disposition = 'route'
                then {{ dbt.dateadd('minute', 'decisions.sla_minutes', 'decisions.decided_at') }}
        end as task_due_at,
        {{ dbt.concat([
            "decisions.reason", "' [rule: '", "decisions.rule_id", "']'",
            "case when decisions.intent is not null then " ~ dbt.concat([
                "' [intent: '", "decisions.intent", "' via '", "decisions.intent_source", "']'"
            ]) ~ " else '' end",
            "case when decisions.summary is not null then " ~ dbt.concat([
                "' Summary: '", "decisions.summary"
            ]) ~ " else '' end",
        ]) }} as note_body
    from decisions
    left join leads
        on decisions.lead_id = leads.lead_id
    left join pauses
        on decisions.lead_id = pauses.lead_id
    where
        decisions.rule_id <> 'spam'
        and pauses.lead_id is null
)

select * from payload
