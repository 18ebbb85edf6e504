-- Each region x segment cell of the territory map names exactly one team.
select
    region,
    segment,
    count(*) as team_count
from {{ ref('territory_teams') }}
group by region, segment
having count(*) > 1
