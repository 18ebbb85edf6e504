-- Each lead's CRM contact and account, from the splink identity step (assets/identity):
--   1. crm_contact: the lead's person includes a CRM contact (linked at or above the auto-link threshold);
--      the account is the contact's account.
--   2. account_domain: the best account any of the lead's events auto-linked to (the account model scores
--      email domain - never a free-mail one -, alias and website domains, company name and country).
-- Below auto-link, candidates are kept, not used: the best person candidate and the best account
-- candidate in the review band, with their probabilities, go to a human as "low-confidence match". A
-- free-mail lead that only names a company is never auto-linked (a company name is weak evidence).
with leads as (
    select * from {{ ref('int_identify_leads') }}
),

lead_events as (
    select * from {{ ref('int_identify_lead_events') }}
),

people as (
    select * from {{ ref('stg_identity__person_assignments') }}
    where is_current
),

event_matches as (
    select * from {{ ref('stg_identity__event_matches') }}
),

contacts as (
    select * from {{ ref('stg_crm__contacts') }}
),

-- A person may include several CRM contacts (duplicates in the CRM): the lowest contact_id stands for it.
person_contacts as (
    select
        people.person_id as lead_id,
        people.contact_id,
        contacts.account_id,
        contacts.owner_id as contact_owner_id,
        row_number() over (partition by people.person_id order by people.contact_id) as contact_rank
    from people
    inner join contacts
        on people.contact_id = contacts.contact_id
    where people.record_kind = 'crm_contact'
),

event_candidates as (
    select
        lead_events.lead_id,
        lead_events.received_at,
        event_matches.*
    from lead_events
    inner join event_matches
        on lead_events.event_id = event_matches.event_id
),

best_linked_account as (
    select
        lead_id,
        account_candidate_id as account_id,
        account_match_probability,
        row_number() over (
            partition by lead_id order by account_match_probability desc, account_candidate_id asc
        ) as match_rank
    from event_candidates
    where account_decision = 'linked'
),

best_account_review as (
    select
        lead_id,
        account_candidate_id,
        account_match_method,
        account_match_probability,
        row_number() over (
            partition by lead_id order by account_match_probability desc, account_candidate_id asc
        ) as match_rank
    from event_candidates
    where account_decision = 'review'
),

-- The person candidate of the lead's latest event still in the review band: earlier events may have been
-- reviewed and resolved by later links.
best_person_review as (
    select
        lead_id,
        person_candidate_id,
        person_candidate_source,
        person_candidate_person_id,
        person_match_probability,
        person_review_reason,
        row_number() over (
            partition by lead_id order by received_at desc, person_match_probability desc
        ) as match_rank
    from event_candidates
    where
        person_decision = 'review'
        and person_candidate_person_id <> lead_id
)

select
    leads.lead_id,
    person_contacts.contact_id,
    person_contacts.contact_owner_id,
    coalesce(person_contacts.account_id, best_linked_account.account_id) as account_id,
    case
        when person_contacts.contact_id is not null then 'crm_contact'
        when best_linked_account.account_id is not null then 'account_domain'
        else 'none'
    end as match_method,
    case
        when person_contacts.contact_id is null then best_linked_account.account_match_probability
    end as account_match_probability,
    -- Review candidates only where nothing was linked: a linked match needs no human.
    case when person_contacts.contact_id is null then best_person_review.person_candidate_id end
        as person_review_candidate_id,
    case when person_contacts.contact_id is null then best_person_review.person_candidate_person_id end
        as person_review_candidate_person_id,
    case when person_contacts.contact_id is null then best_person_review.person_match_probability end
        as person_review_probability,
    case when person_contacts.contact_id is null then best_person_review.person_review_reason end
        as person_review_reason,
    case
        when person_contacts.account_id is null and best_linked_account.account_id is null
            then best_account_review.account_candidate_id
    end as account_review_candidate_id,
    case
        when person_contacts.account_id is null and best_linked_account.account_id is null
            then best_account_review.account_match_method
    end as account_review_method,
    case
        when person_contacts.account_id is null and best_linked_account.account_id is null
            then best_account_review.account_match_probability
    end as account_review_probability
from leads
left join person_contacts
    on
        leads.lead_id = person_contacts.lead_id
        and person_contacts.contact_rank = 1
left join best_linked_account
    on
        leads.lead_id = best_linked_account.lead_id
        and best_linked_account.match_rank = 1
left join best_account_review
    on
        leads.lead_id = best_account_review.lead_id
        and best_account_review.match_rank = 1
left join best_person_review
    on
        leads.lead_id = best_person_review.lead_id
        and best_person_review.match_rank = 1
