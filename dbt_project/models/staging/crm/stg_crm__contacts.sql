-- Leads carry email_key, folded in Python at ingest (plus-address removed, gmail dots removed). A contact's
-- address gets both comparison forms here in portable SQL: email_normalized (lower/trim) for the exact
-- match and email_key (the same folding as ingest, macro email_match_key) for the folded match.
with source as (
    select * from {{ source('crm', 'contacts') }}
),

renamed as (
    select
        contact_id,
        account_id,
        first_name,
        last_name,
        email,
        lower(trim(email)) as email_normalized,
        {{ email_match_key('email') }} as email_key,
        title,
        phone,
        owner_id
    from source
)

select * from renamed
