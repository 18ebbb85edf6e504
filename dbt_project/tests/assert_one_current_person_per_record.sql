-- A record has at most one open person assignment: a merge or unmerge closes the old row first.
-- A whole-history audit (the identity step enforces it per batch): the scheduled audit_warehouse job runs it.
{{ config(tags=["audit"]) }}
select
    record_id,
    count(*) as open_rows
from {{ ref('stg_identity__person_assignments') }}
where is_current
group by record_id
having count(*) > 1
