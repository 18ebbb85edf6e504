-- Speed to lead p50 and p95 (seconds) per stage and end to end: overall, by source and by team ('all'
-- where a dimension is rolled up). Stages count every routed lead that reached them; first touch and end
-- to end count touched leads only.
{%- set stages = [
    'landed', 'validated', 'matched', 'enriched', 'decided', 'written_to_crm', 'first_touch', 'end_to_end'
] %}

with leads as (
    select * from {{ ref('speed_to_lead') }}
),

stage_durations as (
    {%- for stage in stages %}
        select
            lead_id,
            source,
            team,
            '{{ stage }}' as stage,
            {{ loop.index }} as stage_order,
            {{ stage }}_seconds as seconds
        from leads
        where {{ stage }}_seconds is not null
        {{ 'union all' if not loop.last }}
    {%- endfor %}
)

{%- set groupings = [
    ("'all'", "'all'", 'stage, stage_order'),
    ('source', "'all'", 'stage, stage_order, source'),
    ("'all'", 'team', 'stage, stage_order, team'),
] %}
{%- for source, team, group_by in groupings %}
    select
        stage,
        stage_order,
        {{ source }} as source,
        {{ team }} as team,
        count(*) as leads,
        percentile_cont(0.5) within group (order by seconds) as p50_seconds,
        percentile_cont(0.95) within group (order by seconds) as p95_seconds
    from stage_durations
    group by {{ group_by }}
    {{ 'union all' if not loop.last }}
{%- endfor %}
