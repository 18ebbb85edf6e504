-- Rep workload and fairness ledger per owner and week: leads assigned (by the pipeline or a person) and
-- the credits given back (outcome_policy): a lead a person took away, a reassignment because the owner
-- was out of office, a meeting the lead did not attend. net_load = assigned - credits.
with workload_events as (
    select * from {{ ref('int_list_owner_workload_events') }}
),

policy as (
    select
        max(case when setting = 'reassignment_credit' then value end) as reassignment_credit,
        max(case when setting = 'out_of_office_credit' then value end) as out_of_office_credit,
        max(case when setting = 'no_show_credit' then value end) as no_show_credit
    from {{ ref('outcome_policy') }}
),

ledger as (
    select
        workload_events.owner_id,
        cast({{ dbt.date_trunc('week', 'workload_events.occurred_at') }} as date) as period_week,
        sum(case when workload_events.workload_event = 'assigned' then 1 else 0 end) as assigned_by_pipeline,
        sum(case when workload_events.workload_event = 'reassigned_to' then 1 else 0 end) as assigned_by_person,
        sum(case when workload_events.workload_event = 'reassigned_away' then 1 else 0 end) as reassigned_away,
        sum(case when workload_events.workload_event = 'out_of_office' then 1 else 0 end) as out_of_office,
        sum(case when workload_events.workload_event = 'no_show' then 1 else 0 end) as no_shows,
        sum(
            case workload_events.workload_event
                when 'reassigned_away' then policy.reassignment_credit
                when 'out_of_office' then policy.out_of_office_credit
                when 'no_show' then policy.no_show_credit
                else 0
            end
        ) as credits
    from workload_events
    cross join policy
    group by 1, 2
)

select
    owner_id,
    period_week,
    assigned_by_pipeline,
    assigned_by_person,
    assigned_by_pipeline + assigned_by_person as assigned,
    reassigned_away,
    out_of_office,
    no_shows,
    credits,
    assigned_by_pipeline + assigned_by_person - credits as net_load
from ledger
