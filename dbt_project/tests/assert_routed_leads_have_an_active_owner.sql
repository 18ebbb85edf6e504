-- Every lead routed by this build has an owner, and that owner is active in the CRM snapshot.
-- Only the latest build's decisions are checked: a lead routed earlier keeps its owner even if the owner
-- has left since (decisions are history; reassigning a departed rep's book is a CRM workflow).
-- Shown in Dagster as a (blocking) check on lead_decisions.
{{ config(meta={'dagster': {'ref': {'name': 'lead_decisions'}}}) }}

with decisions as (
    select * from {{ ref('lead_decisions') }}
),

owners as (
    select * from {{ ref('stg_crm__owners') }}
),

latest_build as (
    select max(decided_at) as decided_at from decisions
)

select
    decisions.lead_id,
    decisions.rule_id,
    decisions.owner_id
from decisions
inner join latest_build
    on decisions.decided_at = latest_build.decided_at
left join owners
    on decisions.owner_id = owners.owner_id
where
    decisions.disposition = 'route'
    and not coalesce(owners.is_active, false)
