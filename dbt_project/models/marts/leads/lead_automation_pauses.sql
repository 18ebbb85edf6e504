-- Leads automation must not act on: an operator's active pause_automation override for the lead, for its
-- account, or global (a later resume_automation cancels a pause; int_resolve_active_overrides keeps only
-- the latest of the two). Evaluated every run, so a resume takes effect on the next one.
with decisions as (
    select * from {{ ref('lead_decisions') }}
),

pauses as (
    select * from {{ ref('int_resolve_active_overrides') }}
    where action = 'pause_automation'
),

matched as (
    select
        decisions.lead_id,
        pauses.override_id,
        pauses.scope,
        pauses.actor,
        pauses.reason,
        pauses.created_at,
        row_number() over (
            partition by decisions.lead_id order by pauses.created_at desc, pauses.override_id desc
        ) as recency
    from decisions
    inner join pauses
        on
            (pauses.scope = 'lead' and decisions.lead_id = pauses.target_id)
            or (pauses.scope = 'account' and decisions.account_id = pauses.target_id)
            or pauses.scope = 'global'
)

select
    lead_id,
    override_id,
    scope,
    actor,
    reason,
    created_at as paused_at
from matched
where recency = 1
