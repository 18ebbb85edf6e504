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

-- The lead's two domains, in order of trust: the email domain (never a free-mail or disposable one), then
-- the website it typed in.
lead_domains as (
    select
        lead_id,
        email_domain as domain,
        'email_domain' as match_method,
        0 as trust_rank
    from leads
    where
        email_domain is not null
        and not coalesce(is_free_email, false)
        and not coalesce(is_disposable_email, false)
    union all
    select
        lead_id,
        website_domain as domain,
        'website_domain' as match_method,
        1 as trust_rank
    from leads
    where website_domain is not null
),

best_domain_account as (
    select
        lead_domains.lead_id,
        account_domains.account_id,
        lead_domains.match_method,
        row_number() over (
            partition by lead_domains.lead_id
            order by
                lead_domains.trust_rank,
                case when account_domains.is_primary then 0 else 1 end,
                account_domains.account_id
        ) as match_rank
    from lead_domains
    inner join account_domains
        on lead_domains.domain = account_domains.domain
)

select
    leads.lead_id,
    contact_accounts.contact_id,
    coalesce(contact_accounts.account_id, best_domain_account.account_id) as account_id,
    case
        when contact_accounts.account_id is not null then 'contact_email'
        when best_domain_account.account_id is not null then best_domain_account.match_method
        -- A known contact without an account is still a contact match.
        when contact_accounts.contact_id is not null then 'contact_email'
        else 'none'
    end as match_method
from leads
left join contact_accounts
    on leads.lead_id = contact_accounts.lead_id
left join best_domain_account
    on
        leads.lead_id = best_domain_account.lead_id
        and best_domain_account.match_rank = 1
