-- Conversion quality by source, segment and intent: of the routed leads, how many were touched, qualified,
-- converted, and how many reps marked as spam or wrongly routed.
with leads as (
    select * from {{ ref('int_join_outcomes_to_decisions') }}
)

select
    source,
    segment,
    intent,
    count(*) as routed_leads,
    sum(case when first_touch_at is not null then 1 else 0 end) as touched_leads,
    sum(case when is_qualified then 1 else 0 end) as qualified_leads,
    sum(case when is_converted then 1 else 0 end) as converted_leads,
    sum(case when is_marked_spam then 1 else 0 end) as marked_spam,
    sum(case when is_marked_wrong_routing then 1 else 0 end) as marked_wrong_routing,
    sum(case when is_qualified then 1 else 0 end) * 1.0 / count(*) as qualification_rate,
    sum(case when is_converted then 1 else 0 end) * 1.0 / count(*) as conversion_rate
from leads
group by 1, 2, 3
