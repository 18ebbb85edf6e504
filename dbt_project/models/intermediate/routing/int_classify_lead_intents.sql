-- Rules first: what the intent_rules seed can say about each lead without a model.
--   * message_contains rows match a lower-cased phrase anywhere in the lead's latest message (policy
--     phrases such as "lawyer" or "delete my data" set policy_flag; others set the intent);
--   * no_message rows give the intent of a form type when the lead wrote nothing.
-- The best rule by priority wins. needs_interpretation marks the leads no rule could decide and that wrote
-- something: only those go to a model (assets/interpretation), and a lead whose disqualifying spam signals already
-- decide it never does.
with leads as (
    select * from {{ ref('int_identify_leads') }}
),

intent_rules as (
    select * from {{ ref('intent_rules') }}
),

messages as (
    select
        lead_id,
        source,
        message,
        job_title,
        company,
        disqualifying_spam_signals,
        lower(trim(coalesce(message, ''))) as message_text
    from leads
),

rule_matches as (
    select
        messages.lead_id,
        intent_rules.rule_id,
        intent_rules.intent,
        intent_rules.policy_flag,
        row_number() over (
            partition by messages.lead_id order by intent_rules.priority, intent_rules.rule_id
        ) as rule_rank
    from messages
    inner join intent_rules
        on
            (intent_rules.source is null or messages.source = intent_rules.source)
            and (
                (
                    intent_rules.applies_to = 'no_message'
                    and messages.message_text = ''
                )
                or (
                    intent_rules.applies_to = 'message_contains'
                    and messages.message_text <> ''
                    and {{ dbt.position("lower(intent_rules.keyword)", "messages.message_text") }} > 0
                )
            )
)

select
    messages.lead_id,
    messages.source,
    messages.message,
    messages.job_title,
    messages.company,
    rule_matches.rule_id as intent_rule_id,
    rule_matches.intent as rule_intent,
    rule_matches.policy_flag as rule_policy_flag,
    (
        rule_matches.rule_id is null
        and messages.message_text <> ''
        and messages.disqualifying_spam_signals is null
    ) as needs_interpretation
from messages
left join rule_matches
    on
        messages.lead_id = rule_matches.lead_id
        and rule_matches.rule_rank = 1
