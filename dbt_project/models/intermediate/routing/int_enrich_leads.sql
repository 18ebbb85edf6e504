-- The headcount each lead's segment may use, and where it comes from. In order of trust:
--   1. crm_account: the matched CRM account's employees;
--   2. enrichment: the enrichment step found the lead's company domain (email domain - never free-mail or
--      disposable -, else website domain) with confidence at or above enrichment_min_confidence;
--   3. self_reported: what the lead typed into the form, ONLY when the policy says so
--      (decision_thresholds.use_self_reported_employees = 1). Otherwise it is kept for the rep only.
--   0. override: an operator's correct_field employees override beats all of these.
-- A lead whose lookup failed transiently waits (is_waiting_for_enrichment) until the enrichment deadline;
-- after that, or when nothing is known, employees stays NULL and the rules escalate "segment unknown".
with leads as (
    select * from {{ ref('int_identify_leads') }}
),

matches as (
    select * from {{ ref('int_match_leads_to_crm') }}
),

accounts as (
    select * from {{ ref('stg_crm__accounts') }}
),

firmographics as (
    select * from {{ ref('stg_enrichment__domain_firmographics') }}
),

corrected_employees as (
    select
        target_id as lead_id,
        max(cast(field_value as {{ dbt.type_int() }})) as employees
    from {{ ref('int_resolve_active_overrides') }}
    where
        scope = 'lead'
        and action = 'correct_field'
        and field_name = 'employees'
    group by target_id
),

thresholds as (
    select * from {{ ref('decision_thresholds') }}
),

policy as (
    select
        max(case when threshold = 'enrichment_min_confidence' then value end) as min_confidence,
        max(case when threshold = 'use_self_reported_employees' then value end) as use_self_reported
    from thresholds
),

lead_domains as (
    select
        leads.lead_id,
        leads.employees_reported_min,
        case
            when
                leads.email_domain is not null
                and not coalesce(leads.is_free_email, false)
                and not coalesce(leads.is_disposable_email, false)
                then leads.email_domain
            else leads.website_domain
        end as company_domain
    from leads
),

combined as (
    select
        lead_domains.lead_id,
        lead_domains.company_domain,
        lead_domains.employees_reported_min as employees_reported,
        accounts.employees as account_employees,
        corrected_employees.employees as corrected_employees,
        firmographics.enrichment_status as lookup_status,
        firmographics.employees as enriched_employees,
        firmographics.industry as enriched_industry,
        firmographics.confidence as enrichment_confidence,
        firmographics.enrichment_provider,
        firmographics.enrichment_deadline_at,
        policy.min_confidence,
        coalesce(policy.use_self_reported, 0) = 1 as use_self_reported
    from lead_domains
    inner join matches
        on lead_domains.lead_id = matches.lead_id
    left join accounts
        on matches.account_id = accounts.account_id
    left join firmographics
        on lead_domains.company_domain = firmographics.domain
    left join corrected_employees
        on lead_domains.lead_id = corrected_employees.lead_id
    cross join policy
),

classified as (
    select
        *,
        account_employees is null
        and lookup_status = 'found'
        and enriched_employees is not null
        and enrichment_confidence >= min_confidence as enrichment_is_usable
    from combined
)

select
    lead_id,
    company_domain,
    employees_reported,
    case
        when corrected_employees is not null then corrected_employees
        when account_employees is not null then account_employees
        when enrichment_is_usable then enriched_employees
        when use_self_reported then employees_reported
    end as employees,
    case
        when corrected_employees is not null then 'override'
        when account_employees is not null then 'crm_account'
        when enrichment_is_usable then 'enrichment'
        when use_self_reported and employees_reported is not null then 'self_reported'
    end as employees_source,
    case when enrichment_is_usable then enriched_industry end as enriched_industry,
    case
        when account_employees is not null then 'crm_account'
        when company_domain is null then 'no_domain'
        when lookup_status is null then 'not_requested'
        when lookup_status = 'found' and not enrichment_is_usable then 'low_confidence'
        else lookup_status
    end as enrichment_status,
    enrichment_confidence,
    enrichment_provider,
    enrichment_deadline_at,
    coalesce(
        corrected_employees is null and account_employees is null and lookup_status = 'pending_retry', false
    ) as is_waiting_for_enrichment
from classified
