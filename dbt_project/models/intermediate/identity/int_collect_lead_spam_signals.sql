-- One row per (lead, spam signal): the signals ingest found on any of the lead's events, the burst
-- signals of int_detect_submission_bursts (burst_from_ip, burst_from_address) on any of its events, plus
-- missing_contact when no event brought a usable email or phone. Whether a signal disqualifies is the
-- analysts' call, in the spam_signals seed; a signal missing from the seed never disqualifies (the test
-- assert_spam_signals_are_all_in_the_seed catches a code ingest emits but the seed does not list).
with lead_events as (
    select * from {{ ref('int_identify_lead_events') }}
),

signal_policy as (
    select * from {{ ref('spam_signals') }}
),

submission_bursts as (
    select * from {{ ref('int_detect_submission_bursts') }}
),

-- spam_signals is a ';'-separated list; wrapping both sides in ';' matches whole codes only, without
-- splitting strings (no portable split-to-rows exists).
event_signals as (
    select distinct
        lead_events.lead_id,
        signal_policy.signal
    from lead_events
    inner join signal_policy
        on {{ dbt.position(
            dbt.concat(["';'", "signal_policy.signal", "';'"]),
            dbt.concat(["';'", "lead_events.spam_signals", "';'"])
        ) }} > 0
    where lead_events.spam_signals <> ''
),

burst_signals as (
    select distinct
        lead_events.lead_id,
        submission_bursts.signal
    from submission_bursts
    inner join lead_events
        on submission_bursts.event_id = lead_events.event_id
),

missing_contact as (
    select
        lead_id,
        'missing_contact' as signal
    from lead_events
    group by lead_id
    having count(email_normalized) = 0 and count(phone_e164) = 0
),

lead_signals as (
    select
        lead_id,
        signal
    from event_signals
    union all
    select
        lead_id,
        signal
    from burst_signals
    union all
    select
        lead_id,
        signal
    from missing_contact
)

select
    lead_signals.lead_id,
    lead_signals.signal,
    coalesce(signal_policy.disqualifying, false) as is_disqualifying
from lead_signals
left join signal_policy
    on lead_signals.signal = signal_policy.signal
