-- Rules first: what the intent_rules seed can say about each lead without a model.
--   * message_contains rows match a lower-cased phrase anywhere in the lead's latest message (policy
--     phrases such as "lawyer" or "delete my data" set policy_flag; others set the intent);
--   * no_message rows give the intent of a form type when the lead wrote nothing.
--   * instruction_like / instruction_marker rows mark text written to steer a model ("ignore all previous
--     instructions", "SYSTEM:", {"intent": ...}): such a message is no evidence for an intent. Only its
--     policy phrases still count (a person reading it is never a harmful outcome); otherwise the form rule
--     decides as if the lead wrote nothing, and injection_suspected / injection_rule_id say why.
--     instruction_like phrases match the de-obfuscated words (accents folded, zero-width characters
--     dropped, leetspeak digits and look-alike Cyrillic letters read as Latin, non-letters as one space);
--     those of 12 letters or more also match the letters run together ("i g n o r e", "IGNORE_ALL"):
--     shorter ones would match inside ordinary words. assets/interpretation/intent_rules.py reads the seed
--     the same way for the evaluation.
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
        lower(trim(coalesce(message, ''))) as message_text,
        translate(
            {{ fold_accents("lower(" ~ regexp_replace_all(
                "coalesce(message, '')", '[\\x{00AD}\\x{200B}-\\x{200F}\\x{2060}\\x{FEFF}]', ''
            ) ~ ")") }},
            '01345@$7аеорсухі',
            'oieasastaeopcyxi'
        ) as instruction_folded
    from leads
),

instruction_rules as (
    select
        rule_id,
        priority,
        applies_to,
        lower(keyword) as keyword,
        {%- set keyword_folded = "translate(" ~ fold_accents("lower(keyword)") ~ ", '01345@$7аеорсухі', 'oieasastaeopcyxi')" %}
        ' ' || trim({{ regexp_replace_all(keyword_folded, '[^a-z]+', ' ') }}) || ' ' as keyword_words,
        {{ regexp_replace_all(keyword_folded, '[^a-z]+', '') }} as keyword_letters
    from intent_rules
    where applies_to in ('instruction_like', 'instruction_marker') and keyword is not null
),

instruction_matches as (
    select
        messages.lead_id,
        instruction_rules.rule_id,
        row_number() over (
            partition by messages.lead_id order by instruction_rules.priority, instruction_rules.rule_id
        ) as rule_rank
    from messages
    inner join instruction_rules
        on
            messages.message_text <> ''
            and (
                (
                    instruction_rules.applies_to = 'instruction_marker'
                    and {{ dbt.position("instruction_rules.keyword", "messages.message_text") }} > 0
                )
                or (
                    instruction_rules.applies_to = 'instruction_like'
                    and instruction_rules.keyword_letters <> ''
                    and (
                        {{ dbt.position("instruction_rules.keyword_words", "' ' || trim(" ~ regexp_replace_all('messages.instruction_folded', '[^a-z]+', ' ') ~ ") || ' '") }} > 0
                        or (
                            length(instruction_rules.keyword_letters) >= 12
                            and {{ dbt.position("instruction_rules.keyword_letters", regexp_replace_all('messages.instruction_folded', '[^a-z]+', '')) }} > 0
                        )
                    )
                )
            )
),

evidence as (
    select
        messages.*,
        instruction_matches.rule_id as injection_rule_id,
        case when instruction_matches.rule_id is null then messages.message_text else '' end as evidence_text
    from messages
    left join instruction_matches
        on
            messages.lead_id = instruction_matches.lead_id
            and instruction_matches.rule_rank = 1
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
    from evidence as messages
    inner join intent_rules
        on
            (intent_rules.source is null or messages.source = intent_rules.source)
            and (
                (
                    intent_rules.applies_to = 'no_message'
                    and messages.evidence_text = ''
                )
                or (
                    intent_rules.applies_to = 'message_contains'
                    and messages.message_text <> ''
                    and (messages.evidence_text <> '' or intent_rules.policy_flag is not null)
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
    messages.injection_rule_id is not null as injection_suspected,
    messages.injection_rule_id,
    (
        rule_matches.rule_id is null
        and messages.evidence_text <> ''
        and messages.disqualifying_spam_signals is null
    ) as needs_interpretation
from evidence as messages
left join rule_matches
    on
        messages.lead_id = rule_matches.lead_id
        and rule_matches.rule_rank = 1
