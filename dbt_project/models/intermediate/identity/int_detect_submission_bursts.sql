-- One row per (event, burst signal): the event belongs to a burst of submissions from one IP address
-- (burst_from_ip) or one email key (burst_from_address). A burst is a sliding window of window_minutes
-- that holds more than max_events accepted events with the same key (limits per signal in the policy seed
-- spam_burst_limits). Every event inside such a window is in the burst, not only the ones after the limit
-- was reached: the first ten forms a script sends are as scripted as the eleventh.
-- Portable SQL (dbt.dateadd, self-joins), so the same model runs on DuckDB and Spark.
with events as (
    select
        event_id,
        received_at,
        -- IPv6 addresses arrive in either case; producers sometimes pad the value.
        lower(trim(ip)) as ip,
        email_key
    from {{ ref('stg_leadops_raw__inbound_events') }}
),

burst_limits as (
    select * from {{ ref('spam_burst_limits') }}
),

-- Each event once per key it has, named by the signal a burst of that key raises.
keyed_events as (
    select
        event_id,
        received_at,
        'burst_from_ip' as signal,
        ip as burst_key
    from events
    where ip is not null and ip <> ''
    union all
    select
        event_id,
        received_at,
        'burst_from_address' as signal,
        email_key as burst_key
    from events
    where email_key is not null
),

limited_events as (
    select
        keyed_events.event_id,
        keyed_events.received_at,
        keyed_events.signal,
        keyed_events.burst_key,
        burst_limits.max_events,
        {{ dbt.dateadd('minute', '-1 * burst_limits.window_minutes', 'keyed_events.received_at') }}
            as window_start_at
    from keyed_events
    inner join burst_limits
        on keyed_events.signal = burst_limits.signal
),

-- Every event closes the window [received_at - window_minutes, received_at]; the windows that hold more
-- events of the same key than the limit allows.
overfull_windows as (
    select
        window_end.signal,
        window_end.burst_key,
        window_end.window_start_at,
        window_end.received_at as window_end_at
    from limited_events as window_end
    inner join limited_events as in_window
        on
            window_end.signal = in_window.signal
            and window_end.burst_key = in_window.burst_key
            and window_end.window_start_at <= in_window.received_at
            and window_end.received_at >= in_window.received_at
    group by
        window_end.event_id,
        window_end.signal,
        window_end.burst_key,
        window_end.window_start_at,
        window_end.received_at,
        window_end.max_events
    having count(*) > window_end.max_events
),

burst_events as (
    select distinct
        limited_events.event_id,
        limited_events.signal
    from limited_events
    inner join overfull_windows
        on
            limited_events.signal = overfull_windows.signal
            and limited_events.burst_key = overfull_windows.burst_key
            and limited_events.received_at >= overfull_windows.window_start_at
            and limited_events.received_at <= overfull_windows.window_end_at
)

select
    event_id,
    signal
from burst_events
