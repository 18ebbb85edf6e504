-- Calibration of the two probabilities LeadOps acts on, against what happened (reliability table in ten
-- bins of width 0.1, plus the Brier score of each model over all its leads):
--   intent_confidence: read as "this lead is a real buyer": observed 1 when the lead qualified (status
--     qualified/converted, a meeting, an opportunity), 0 when a rep marked it spam or set it unqualified;
--   account_match_probability: observed 0 when a rep marked the account match wrong, 1 when a rep
--     touched or worked the lead without doing so.
-- Leads with no such outcome yet are left out: they say nothing either way.
with leads as (
    select * from {{ ref('int_join_outcomes_to_decisions') }}
),

scored as (
    select
        'intent_confidence' as model,
        intent_confidence as predicted,
        case
            when is_marked_spam or current_status = 'unqualified' then 0
            when is_qualified then 1
        end as observed
    from leads
    where intent_confidence is not null
    union all
    select
        'account_match_probability' as model,
        account_match_probability as predicted,
        case
            when is_marked_wrong_account then 0
            when first_touch_at is not null or has_outcomes then 1
        end as observed
    from leads
    where account_match_probability is not null
),

resolved as (
    select
        model,
        predicted,
        observed,
        least(floor(predicted * 10), 9) / 10.0 as bin_lower,
        (predicted - observed) * (predicted - observed) as squared_error
    from scored
    where observed is not null
),

brier as (
    select
        model,
        avg(squared_error) as brier_score,
        count(*) as model_leads
    from resolved
    group by model
)

select
    resolved.model,
    resolved.bin_lower,
    resolved.bin_lower + 0.1 as bin_upper,
    count(*) as leads,
    avg(resolved.predicted) as mean_predicted,
    avg(resolved.observed * 1.0) as observed_rate,
    max(brier.brier_score) as brier_score,
    max(brier.model_leads) as model_leads
from resolved
inner join brier
    on resolved.model = brier.model
group by resolved.model, resolved.bin_lower
