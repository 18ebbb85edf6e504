-- A contact's address in both comparison forms: email_normalized (lower/trim) for the exact match, and
-- email_key, folded by the CRM snapshot with the one Python function ingest applies to leads (plus-address
-- removed, gmail dots removed), for the folded match.
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
        email_key,
        title,
        phone,
        owner_id
    from source
)

select * from renamed
