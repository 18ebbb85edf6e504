-- A headcount must fall in at most one segment band: two bands that share any number fail here.
-- Bounds are inclusive; an empty max_employees is open-ended.
with bands as (
    select * from {{ ref('segment_bands') }}
)

select
    lower_band.segment,
    upper_band.segment as overlapping_segment
from bands as lower_band
inner join bands as upper_band
    on
        lower_band.segment < upper_band.segment
        and lower_band.min_employees <= coalesce(upper_band.max_employees, lower_band.min_employees)
        and upper_band.min_employees <= coalesce(lower_band.max_employees, upper_band.min_employees)
