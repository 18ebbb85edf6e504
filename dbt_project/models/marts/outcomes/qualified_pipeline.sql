-- Qualified pipeline by source, segment and intent: qualified leads, meetings, opportunities and their
-- value (latest amount per opportunity by event time; lost opportunities count for nothing).
with leads as (
    select * from {{ ref('int_join_outcomes_to_decisions') }}
)

select
    source,
    segment,
    intent,
    count(*) as routed_leads,
    sum(case when is_qualified then 1 else 0 end) as qualified_leads,
    sum(meetings) as meetings,
    sum(meetings_held) as meetings_held,
    sum(opportunities) as opportunities,
    sum(pipeline_value) as pipeline_value,
    sum(won_value) as won_value
from leads
group by 1, 2, 3
