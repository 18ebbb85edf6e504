-- Everything the routing rules read, one row per lead: the lead, its CRM match, the matched account and
-- its owner, the region of its country (seed country_regions) and its segment (seed segment_bands).
--
-- Employees: the account's headcount when the lead matched an account, else the lead's self-reported
-- minimum ("51-200" counts as 51). Issue #4 replaces the self-reported fallback with enrichment.
with leads as (
    select * from {{ ref('int_identify_leads') }}
),

matches as (
    select * from {{ ref('int_match_leads_to_crm') }}
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
        accounts.account_name,
        accounts.account_status,
        accounts.industry,
        accounts.owner_id as account_owner_id,
        owners.owner_name as account_owner_name,
        owners.team as account_owner_team,
        owners.is_active as account_owner_is_active,
        coalesce(accounts.employees, leads.employees_reported_min) as employees
    from leads
    inner join matches
        on leads.lead_id = matches.lead_id
    left join accounts
        on matches.account_id = accounts.account_id
    left join owners
        on accounts.owner_id = owners.owner_id
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
