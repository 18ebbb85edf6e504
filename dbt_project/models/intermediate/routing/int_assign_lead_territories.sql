-- Everything the routing rules read, one row per lead: the lead, its CRM match, the matched account and
-- its owner, the region of its country (seed country_regions) and its segment (seed segment_bands).
--
-- Employees and their source come from int_enrich_leads (CRM account, else confident enrichment; the
-- lead's self-reported band only when the policy allows it): no employees, no segment.
with leads as (
    select * from {{ ref('int_identify_leads') }}
),

matches as (
    select * from {{ ref('int_match_leads_to_crm') }}
),

enrichment as (
    select * from {{ ref('int_enrich_leads') }}
),

job_titles as (
    select * from {{ ref('int_classify_lead_job_titles') }}
),

accounts as (
    select * from {{ ref('stg_crm__accounts') }}
),

owners as (
    select * from {{ ref('stg_crm__owners') }}
),

country_regions as (
    select * from {{ ref('country_regions') }}
),

segment_bands as (
    select * from {{ ref('segment_bands') }}
),

leads_with_accounts as (
    select
        leads.*,
        matches.contact_id,
        matches.account_id,
        matches.match_method,
        matches.account_match_probability,
        matches.contact_owner_id,
        matches.person_review_candidate_id,
        matches.person_review_candidate_person_id,
        matches.person_review_probability,
        matches.person_review_reason,
        matches.account_review_candidate_id,
        matches.account_review_method,
        matches.account_review_probability,
        accounts.account_name,
        accounts.account_status,
        coalesce(accounts.industry, enrichment.enriched_industry) as industry,
        accounts.owner_id as account_owner_id,
        owners.owner_name as account_owner_name,
        owners.team as account_owner_team,
        owners.is_active as account_owner_is_active,
        contact_owners.is_active as contact_owner_is_active,
        enrichment.employees,
        enrichment.employees_source,
        enrichment.employees_reported,
        enrichment.company_domain,
        enrichment.enrichment_status,
        enrichment.enrichment_confidence,
        enrichment.enrichment_provider,
        enrichment.enrichment_deadline_at,
        enrichment.is_waiting_for_enrichment,
        job_titles.seniority,
        job_titles.job_function
    from leads
    inner join matches
        on leads.lead_id = matches.lead_id
    inner join enrichment
        on leads.lead_id = enrichment.lead_id
    left join job_titles
        on leads.lead_id = job_titles.lead_id
    left join accounts
        on matches.account_id = accounts.account_id
    left join owners
        on accounts.owner_id = owners.owner_id
    left join owners as contact_owners
        on matches.contact_owner_id = contact_owners.owner_id
)

select
    leads_with_accounts.*,
    country_regions.region,
    segment_bands.segment
from leads_with_accounts
left join country_regions
    on leads_with_accounts.country_code = country_regions.country_code
left join segment_bands
    on
        leads_with_accounts.employees >= segment_bands.min_employees
        and (
            segment_bands.max_employees is null
            or leads_with_accounts.employees <= segment_bands.max_employees
        )
