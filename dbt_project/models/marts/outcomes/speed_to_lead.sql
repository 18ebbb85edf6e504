-- Speed to lead, one row per routed lead: seconds spent in each stage from received to first touch.
-- A stage without a timestamp of its own (no enrichment lookup, no CRM write yet) or one recorded before
-- the stage it follows (a domain enriched for an earlier lead) takes no time: each stage ends at the later
-- of its own time and the previous stage's end. So the stage durations always add up to the end-to-end
-- time, which counts only for leads with a first touch.
{%- set stages = ['landed', 'validated', 'matched', 'enriched', 'decided', 'written_to_crm'] %}
{#- Each stage's end, and each stage's duration from the previous stage's end, in stage order. -#}
{%- set stage_ends = [] %}
{%- set durations = [] %}
{%- set previous = namespace(stage='received') %}
{%- for stage in stages %}
    {%- do stage_ends.append(
        'greatest(' ~ previous.stage ~ '_end, coalesce(' ~ stage ~ '_at, ' ~ previous.stage ~ '_end)) as '
        ~ stage ~ '_end'
    ) %}
    {%- set previous.stage = stage %}
{%- endfor %}
{%- set previous.stage = 'received' %}
{%- for stage in stages + ['first_touch'] %}
    {%- do durations.append(
        dbt.datediff(previous.stage ~ '_end', stage ~ '_end', 'second') ~ ' as ' ~ stage ~ '_seconds'
    ) %}
    {%- set previous.stage = stage %}
{%- endfor %}

with stamps as (
    select * from {{ ref('int_collect_lead_stage_timestamps') }}
),

clamped as (
    select
        lead_id,
        source,
        team,
        first_touch_at,
        received_at as received_end,
        {{ stage_ends | join(', ') }}
    from stamps
),

ended as (
    select
        clamped.*,
        case
            when clamped.first_touch_at is not null
                then greatest(clamped.written_to_crm_end, clamped.first_touch_at)
        end as first_touch_end
    from clamped
)

select
    lead_id,
    source,
    team,
    received_end as received_at,
    first_touch_at,
    first_touch_at is not null as is_touched,
    {{ durations | join(', ') }},
    {{ dbt.datediff('received_end', 'first_touch_end', 'second') }} as end_to_end_seconds
from ended
