-- One row per lead with outcomes: what happened after routing, from the latest states (by event time) and
-- the first of each one-off outcome (first touch, first reassignment by a person, reps' marks).
with outcomes as (
    select * from {{ ref('stg_feedback__outcome_events') }}
),

latest as (
    select * from {{ ref('int_pick_latest_outcome_states') }}
),

events as (
    select
        lead_id,
        min(case when kind = 'first_touch' then occurred_at end) as first_touch_at,
        min(
            case when kind = 'owner_reassigned' and actor_type = 'person' then occurred_at end
        ) as first_person_reassigned_at,
        sum(case when kind = 'owner_reassigned' and actor_type = 'person' then 1 else 0 end) as reassignments,
        max(case when kind = 'lead_converted' then 1 else 0 end) = 1 as has_converted,
        max(case when kind = 'marked_by_rep' and mark = 'spam' then 1 else 0 end) = 1 as is_marked_spam,
        max(
            case when kind = 'marked_by_rep' and mark = 'wrong_routing' then 1 else 0 end
        ) = 1 as is_marked_wrong_routing,
        max(
            case when kind = 'marked_by_rep' and mark = 'wrong_account' then 1 else 0 end
        ) = 1 as is_marked_wrong_account
    from outcomes
    group by lead_id
),

states as (
    select
        lead_id,
        max(case when entity_kind = 'status' then state end) as current_status,
        sum(case when entity_kind = 'meeting' then 1 else 0 end) as meetings,
        sum(case when entity_kind = 'meeting' and state = 'held' then 1 else 0 end) as meetings_held,
        sum(case when entity_kind = 'meeting' and state = 'no_show' then 1 else 0 end) as meetings_no_show,
        sum(case when entity_kind = 'opportunity' then 1 else 0 end) as opportunities,
        sum(
            case when entity_kind = 'opportunity' and state <> 'closed_lost' then coalesce(amount, 0) else 0 end
        ) as pipeline_value,
        sum(
            case when entity_kind = 'opportunity' and state = 'closed_won' then coalesce(amount, 0) else 0 end
        ) as won_value
    from latest
    group by lead_id
)

select
    events.lead_id,
    events.first_touch_at,
    events.first_person_reassigned_at,
    events.reassignments,
    states.current_status,
    coalesce(states.meetings, 0) as meetings,
    coalesce(states.meetings_held, 0) as meetings_held,
    coalesce(states.meetings_no_show, 0) as meetings_no_show,
    coalesce(states.opportunities, 0) as opportunities,
    coalesce(states.pipeline_value, 0) as pipeline_value,
    coalesce(states.won_value, 0) as won_value,
    events.has_converted or coalesce(states.current_status = 'converted', false) as is_converted,
    events.is_marked_spam,
    events.is_marked_wrong_routing,
    events.is_marked_wrong_account
from events
left join states
    on events.lead_id = states.lead_id
