-- Finds each lead's CRM contact and account, in this order of trust:
--   1. contact_email: a contact with the lead's address (exact lower/trim match beats the folded
--      email_key match); the account is the contact's account.
--   2. email_domain: the lead's email domain is an account's primary or alias domain. Never for free-mail
--      or disposable domains: half the world writes from gmail.com.
--   3. website_domain: the domain of the website the lead typed in.
-- A domain listed on several accounts goes to the one where it is primary, then the lowest account_id.
with leads as (
    select * from {{ ref('int_identify_leads') }}
),

contacts as (
    select * from {{ ref('stg_crm__contacts') }}
),

accounts as (
    select * from {{ ref('stg_crm__accounts') }}
),

account_domains as (
    select * from {{ ref('stg_crm__account_domains') }}
),

contact_candidates as (
    select
        leads.lead_id,
        contacts.contact_id,
        contacts.account_id,
        0 as match_strength
    from leads
    inner join contacts
        on leads.email = contacts.email_normalized
    union all
    select
        leads.lead_id,
        contacts.contact_id,
        contacts.account_id,
        1 as match_strength
    from leads
    inner join contacts
        on leads.email_key = contacts.email_key
),

best_contact as (
    select
        lead_id,
        contact_id,
        account_id,
        row_number() over (partition by lead_id order by match_strength, contact_id) as match_rank
    from contact_candidates
),

contact_accounts as (
    select
        best_contact.lead_id,
        best_contact.contact_id,
        accounts.account_id
    from best_contact
    left join accounts
        on best_contact.account_id = accounts.account_id
    where best_contact.match_rank = 1
),

email_domain_candidates as (
    select
        leads.lead_id,
        account_domains.account_id,
        row_number() over (
            partition by leads.lead_id
            order by case when account_domains.is_primary then 0 else 1 end, account_domains.account_id
        ) as match_rank
    from leads
    inner join account_domains
        on leads.email_domain = account_domains.domain
    where
        not coalesce(leads.is_free_email, false)
        and not coalesce(leads.is_disposable_email, false)
),

website_domain_candidates as (
    select
        leads.lead_id,
        account_domains.account_id,
        row_number() over (
            partition by leads.lead_id
            order by case when account_domains.is_primary then 0 else 1 end, account_domains.account_id
        ) as match_rank
    from leads
    inner join account_domains
        on leads.website_domain = account_domains.domain
)

select
    leads.lead_id,
    contact_accounts.contact_id,
    coalesce(
        contact_accounts.account_id, email_domain_candidates.account_id, website_domain_candidates.account_id
    ) as account_id,
    case
        when contact_accounts.account_id is not null then 'contact_email'
        when email_domain_candidates.account_id is not null then 'email_domain'
        when website_domain_candidates.account_id is not null then 'website_domain'
        -- A known contact without an account is still a contact match.
        when contact_accounts.contact_id is not null then 'contact_email'
        else 'none'
    end as match_method
from leads
left join contact_accounts
    on leads.lead_id = contact_accounts.lead_id
left join email_domain_candidates
    on
        leads.lead_id = email_domain_candidates.lead_id
        and email_domain_candidates.match_rank = 1
left join website_domain_candidates
    on
        leads.lead_id = website_domain_candidates.lead_id
        and website_domain_candidates.match_rank = 1
