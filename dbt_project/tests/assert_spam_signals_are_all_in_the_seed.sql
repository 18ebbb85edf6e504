-- Every spam signal code ingest wrote on an event is listed in the spam_signals seed, so none is silently
-- ignored. Without splitting strings: the known codes found in an event's ';'-list, joined back with ';',
-- must account for the list's whole length.
-- Shown in Dagster as a (blocking) check on stg_leadops_raw__inbound_events.
{{ config(meta={'dagster': {'ref': {'name': 'stg_leadops_raw__inbound_events'}}}) }}

with events as (
    select
        event_id,
        spam_signals
    from {{ ref('stg_leadops_raw__inbound_events') }}
    where spam_signals <> ''
),

signal_policy as (
    select * from {{ ref('spam_signals') }}
),

known_signals as (
    select
        events.event_id,
        sum({{ dbt.length('signal_policy.signal') }}) + count(*) - 1 as known_length
    from events
    inner join signal_policy
        on {{ dbt.position(
            dbt.concat(["';'", "signal_policy.signal", "';'"]),
            dbt.concat(["';'", "events.spam_signals", "';'"])
        ) }} > 0
    group by events.event_id
)

select
    events.event_id,
    events.spam_signals
from events
left join known_signals
    on events.event_id = known_signals.event_id
where coalesce(known_signals.known_length, 0) <> {{ dbt.length('events.spam_signals') }}
