-- Person id history per record. record_kind says what the record is: an inbound event or a CRM contact
-- (record_id contact:<contact_id>); contact_id is filled for the latter.
with source as (
    select * from {{ source('identity', 'person_assignments') }}
),

renamed as (
    select
        record_id,
        case when record_id like 'contact:%' then 'crm_contact' else 'event' end as record_kind,
        case
            when record_id like 'contact:%' then substr(record_id, {{ dbt.length("'contact:'") }} + 1)
        end as contact_id,
        person_id,
        cast(valid_from as {{ dbt.type_timestamp() }}) as valid_from,
        cast(valid_to as {{ dbt.type_timestamp() }}) as valid_to,
        valid_to is null as is_current,
        change,
        actor,
        override_id,
        match_probability
    from source
)

select * from renamed
