-- Calibration: is each confidence a routed lead's decision rested on as good as it claims? A reliability
-- table (ten bins of width 0.1) and a Brier score per series, one series per (confidence, basis):
--   intent      / model           the classifier's (or LLM's) intent_confidence;
--   intent      / rule            an intent rule decided: LeadOps acts on it as certain (it skips the
--                                 high-impact confidence gate), so it is scored as predicted 1.0;
--   intent      / person          an operator reclassified the intent: also acted on as certain;
--     observed 1 when the lead qualified (status qualified/converted, a meeting, an opportunity), 0 when
--     a rep marked it spam or set it unqualified.
--   identity    / crm_contact     splink's probability for the link to the CRM contact;
--   identity    / account_domain  splink's probability for the link to the account;
--     observed 0 when a rep marked the account match wrong, 1 when a rep worked the lead without doing so.
--   enrichment  / enrichment      the vendor's confidence, when enrichment set the company size (segment);
--     observed 0 when the lead was misrouted (reassigned by a person in the window, or marked wrong
--     routing), 1 when it was worked and neither happened.
--   decision    / weakest_link    every routed lead: the lowest of the confidences above that it used (1.0
--                                 when only rules, CRM records and people decided it);
--     observed 0 when it was misrouted or marked wrong routing, wrong account or spam, 1 when it was worked
--     and none of that happened.
-- A lead with no telling outcome yet is left out of a series: it says nothing either way.
with leads as (
    select * from {{ ref('int_join_outcomes_to_decisions') }}
),

evidence as (
    select
        lead_id,
        case
            when intent_source = 'model' then intent_confidence
            when intent_source = 'rule' then 1.0
            when intent_source = 'override' then 1.0
        end as intent_predicted,
        case intent_source
            when 'model' then 'model'
            when 'rule' then 'rule'
            when 'override' then 'person'
        end as intent_basis,
        case
            when match_method = 'crm_contact' then contact_match_probability
            when match_method = 'account_domain' then account_match_probability
        end as identity_predicted,
        case when match_method in ('crm_contact', 'account_domain') then match_method end as identity_basis,
        case when employees_source = 'enrichment' then enrichment_confidence end as enrichment_predicted,
        case
            when is_marked_spam or current_status = 'unqualified' then 0
            when is_qualified then 1
        end as intent_observed,
        case
            when is_marked_wrong_account then 0
            when first_touch_at is not null or has_outcomes then 1
        end as identity_observed,
        case
            when is_misrouted or is_marked_wrong_routing then 0
            when first_touch_at is not null or has_outcomes then 1
        end as routing_observed,
        case
            when is_misrouted or is_marked_wrong_routing or is_marked_wrong_account or is_marked_spam then 0
            when first_touch_at is not null or has_outcomes then 1
        end as decision_observed
    from leads
),

scored as (
    select
        'intent' as confidence,
        intent_basis as basis,
        intent_predicted as predicted,
        intent_observed as observed
    from evidence
    where intent_predicted is not null
    union all
    select
        'identity' as confidence,
        identity_basis as basis,
        identity_predicted as predicted,
        identity_observed as observed
    from evidence
    where identity_predicted is not null
    union all
    select
        'enrichment' as confidence,
        'enrichment' as basis,
        enrichment_predicted as predicted,
        routing_observed as observed
    from evidence
    where enrichment_predicted is not null
    union all
    select
        'decision' as confidence,
        'weakest_link' as basis,
        least(
            coalesce(intent_predicted, 1.0), coalesce(identity_predicted, 1.0), coalesce(enrichment_predicted, 1.0)
        ) as predicted,
        decision_observed as observed
    from evidence
),

resolved as (
    select
        confidence,
        basis,
        predicted,
        observed,
        least(floor(predicted * 10), 9) / 10.0 as bin_lower,
        (predicted - observed) * (predicted - observed) as squared_error
    from scored
    where observed is not null
),

series as (
    select
        confidence,
        basis,
        avg(squared_error) as brier_score,
        count(*) as series_leads
    from resolved
    group by confidence, basis
)

select
    resolved.confidence,
    resolved.basis,
    resolved.bin_lower,
    resolved.bin_lower + 0.1 as bin_upper,
    count(*) as leads,
    avg(resolved.predicted) as mean_predicted,
    avg(resolved.observed * 1.0) as observed_rate,
    max(series.brier_score) as brier_score,
    max(series.series_leads) as series_leads
from resolved
inner join series
    on resolved.confidence = series.confidence and resolved.basis = series.basis
group by resolved.confidence, resolved.basis, resolved.bin_lower
