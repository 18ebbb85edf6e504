-- The latest state of each thing an outcome describes, by event time (occurred_at), whatever the order in
-- which the outcomes arrived: a lead's status, each meeting, each opportunity (stage and amount). Ties on
-- occurred_at go to the larger outcome_id, so the answer never depends on arrival either.
with outcomes as (
    select * from {{ ref('stg_feedback__outcome_events') }}
),

states as (
    select
        lead_id,
        'status' as entity_kind,
        lead_id as entity_id,
        status as state,
        cast(null as {{ dbt.type_numeric() }}) as amount,
        occurred_at,
        outcome_id
    from outcomes
    where kind = 'status_changed'
    union all
    select
        lead_id,
        'meeting' as entity_kind,
        meeting_id as entity_id,
        status as state,
        cast(null as {{ dbt.type_numeric() }}) as amount,
        occurred_at,
        outcome_id
    from outcomes
    where kind = 'meeting'
    union all
    select
        lead_id,
        'opportunity' as entity_kind,
        opportunity_id as entity_id,
        stage as state,
        amount,
        occurred_at,
        outcome_id
    from outcomes
    where kind = 'opportunity_updated'
),

ranked as (
    select
        states.*,
        row_number() over (
            partition by states.lead_id, states.entity_kind, states.entity_id
            order by states.occurred_at desc, states.outcome_id desc
        ) as recency
    from states
)

select
    lead_id,
    entity_kind,
    entity_id,
    state,
    amount,
    occurred_at as state_since
from ranked
where recency = 1
