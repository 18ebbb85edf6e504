-- A record has at most one open person assignment: a merge or unmerge closes the old row first.
select
    record_id,
    count(*) as open_rows
from {{ ref('stg_identity__person_assignments') }}
where is_current
group by record_id
having count(*) > 1
