-- One row per lead: when it first and last wrote in, the source of its first event, the latest non-null
-- value of each attribute (a second form that leaves the phone empty does not erase the first one's), and
-- its spam signals merged over all events. An operator's correct_field override (int_resolve_active_overrides)
-- replaces company, country_code, job_title, first_name or last_name: corrections win over what was typed.
with lead_events as (
    select * from {{ ref('int_identify_lead_events') }}
),

lead_signals as (
    select * from {{ ref('int_collect_lead_spam_signals') }}
),

latest_values as (
    select
        lead_id,
        row_number() over (partition by lead_id order by received_at, event_id) as arrival_rank,
        source as first_source,
        {% for column, alias in [
            ('email_normalized', 'email'),
            ('email_key', 'email_key'),
            ('email_domain', 'email_domain'),
            ('is_free_email', 'is_free_email'),
            ('is_disposable_email', 'is_disposable_email'),
            ('first_name_normalized', 'first_name'),
            ('last_name_normalized', 'last_name'),
            ('company', 'company'),
            ('company_normalized', 'company_normalized'),
            ('job_title', 'job_title'),
            ('website_domain', 'website_domain'),
            ('country_code', 'country_code'),
            ('phone_e164', 'phone_e164'),
            ('employees_reported_min', 'employees_reported_min'),
            ('partner_id', 'partner_id'),
            ('partner_name', 'partner_name'),
            ('message', 'message'),
        ] -%}
            {{ latest_non_null(column, 'lead_id', 'received_at desc, event_id desc') }} as {{ alias }}
            {%- if not loop.last %},{% endif %}
        {% endfor %}
    from lead_events
),

corrections as (
    select
        target_id as lead_id,
        max(case when field_name = 'company' then field_value end) as company,
        max(case when field_name = 'country_code' then field_value end) as country_code,
        max(case when field_name = 'job_title' then field_value end) as job_title,
        max(case when field_name = 'first_name' then field_value end) as first_name,
        max(case when field_name = 'last_name' then field_value end) as last_name
    from {{ ref('int_resolve_active_overrides') }}
    where
        scope = 'lead'
        and action = 'correct_field'
    group by target_id
),

event_history as (
    select
        lead_id,
        min(received_at) as first_received_at,
        max(received_at) as last_received_at,
        count(*) as event_count,
        {{ dbt.listagg('event_id', "';'", 'order by received_at, event_id') }} as event_ids
    from lead_events
    group by lead_id
),

merged_signals as (
    select
        lead_id,
        {{ dbt.listagg('signal', "';'", 'order by signal') }} as spam_signals
    from lead_signals
    group by lead_id
),

disqualifying_signals as (
    select
        lead_id,
        {{ dbt.listagg('signal', "';'", 'order by signal') }} as disqualifying_spam_signals
    from lead_signals
    where is_disqualifying
    group by lead_id
)

select
    latest_values.lead_id,
    event_history.event_ids,
    event_history.event_count,
    event_history.first_received_at,
    event_history.last_received_at,
    latest_values.first_source as source,
    latest_values.email,
    latest_values.email_key,
    latest_values.email_domain,
    latest_values.is_free_email,
    latest_values.is_disposable_email,
    coalesce(corrections.first_name, latest_values.first_name) as first_name,
    coalesce(corrections.last_name, latest_values.last_name) as last_name,
    coalesce(corrections.company, latest_values.company) as company,
    coalesce(lower(trim(corrections.company)), latest_values.company_normalized) as company_normalized,
    coalesce(corrections.job_title, latest_values.job_title) as job_title,
    latest_values.website_domain,
    coalesce(corrections.country_code, latest_values.country_code) as country_code,
    latest_values.phone_e164,
    latest_values.employees_reported_min,
    latest_values.partner_id,
    latest_values.partner_name,
    latest_values.message,
    coalesce(merged_signals.spam_signals, '') as spam_signals,
    disqualifying_signals.disqualifying_spam_signals
from latest_values
inner join event_history
    on latest_values.lead_id = event_history.lead_id
left join merged_signals
    on latest_values.lead_id = merged_signals.lead_id
left join disqualifying_signals
    on latest_values.lead_id = disqualifying_signals.lead_id
left join corrections
    on latest_values.lead_id = corrections.lead_id
where latest_values.arrival_rank = 1
