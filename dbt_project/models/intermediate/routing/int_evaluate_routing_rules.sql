-- The routing rules. Each CTE below is one KIND of rule: it lists the leads the rule applies to, the team
-- or owner it sends them to and the reason a rep will read. All candidates are then ranked by the rule's
-- priority in the routing_rules seed (lower first; disabled rules are ignored) and the first match wins.
--
-- To change WHO gets WHAT, edit the seeds: a rule of an existing kind is one routing_rules row. The
-- built-in kinds are one rule each, named after the kind (spam ... no_territory). The generic kinds read
-- their conditions from the row itself, so a policy may have any number of them:
--   lead_attribute: list cells (countries, regions, segments, sources, intents, job_functions,
--                   seniorities, account_statuses; 'a|b', empty = anything) that must all hold;
--   catch_all:      every lead (the lowest priority catches what nothing else took).
-- A team cell may be a template with {region} and {segment} (macro resolve_team_template).
-- To add a new KIND of rule: one CTE here (named rule_<kind>, added to candidates), one routing_rules row
-- and one unit test in _routing__models.yml.
--
-- A candidate with a team but no owner is round-robined among the team's active owners in
-- int_assign_round_robin_owners (every kind but those in macro named_owner_rule_kinds).
--
-- is_waiting: the winning rule reads the segment (routing_rules.waits_for_enrichment) while the lead's
-- company lookup failed transiently; such a lead is not decided until enrichment answers or its deadline
-- passes (then segment_unknown escalates it).
with territories as (
    select * from {{ ref('int_assign_lead_territories') }}
),

intents as (
    select * from {{ ref('int_decide_lead_intents') }}
),

leads as (
    select
        territories.*,
        intents.intent,
        intents.policy_flag
    from territories
    left join intents
        on territories.lead_id = intents.lead_id
),

routing_rules as (
    select * from {{ ref('routing_rules') }}
),

special_cases as (
    select * from {{ ref('special_cases') }}
),

territory_teams as (
    select * from {{ ref('territory_teams') }}
),

teams as (
    select * from {{ ref('teams') }}
),

-- spam: any signal the spam_signals seed marks as disqualifying (missing_contact = no email and no phone).
rule_spam as (
    select
        lead_id,
        'spam' as rule_id,
        cast(null as {{ dbt.type_string() }}) as team,
        cast(null as {{ dbt.type_string() }}) as owner_id,
        {{ dbt.concat(["'disqualifying spam signals: '", "disqualifying_spam_signals"]) }} as reason
    from leads
    where disqualifying_spam_signals is not null
),

-- policy_sensitive: a legal threat, a data-deletion request, a security report or a complaint (intent
-- rules or the model's flag) -> a person answers, whoever owns the account.
rule_policy_sensitive as (
    select
        lead_id,
        'policy_sensitive' as rule_id,
        cast(null as {{ dbt.type_string() }}) as team,
        cast(null as {{ dbt.type_string() }}) as owner_id,
        {{ dbt.concat(["'policy-sensitive message ('", "policy_flag", "'): a person answers, not automation'"]) }}
            as reason
    from leads
    where policy_flag is not null
),

-- low_confidence_match: identity found a candidate person or account only in the review band -> a person
-- confirms the match before anyone acts on it (the candidates and probabilities are in the reason; a
-- person candidate identity held back from scoring, e.g. a blocking key shared by too many records,
-- carries identity's reason instead of a probability).
rule_low_confidence_match as (
    select
        lead_id,
        'low_confidence_match' as rule_id,
        cast(null as {{ dbt.type_string() }}) as team,
        cast(null as {{ dbt.type_string() }}) as owner_id,
        {{ dbt.concat([
            "'low-confidence match: '",
            "coalesce(" ~ dbt.concat([
                "'account '", "account_review_candidate_id", "' ('", "account_review_method", "', p='",
                as_text("round(account_review_probability, 3)"), "')'",
            ]) ~ ", '')",
            "case when account_review_candidate_id is not null and person_review_candidate_person_id is not null"
            ~ " then '; ' else '' end",
            "coalesce(" ~ dbt.concat([
                "'person '", "person_review_candidate_person_id", "' via '", "person_review_candidate_id",
                "' ('",
                "coalesce(" ~ dbt.concat(["'p='", as_text("round(person_review_probability, 3)")])
                ~ ", " ~ dbt.concat(["'not scored: '", "person_review_reason"]) ~ ", 'not scored')",
                "')'",
            ]) ~ ", '')",
        ]) }} as reason
    from leads
    where
        account_review_candidate_id is not null
        or person_review_candidate_person_id is not null
),

-- conflicting_ownership: the lead's CRM contact is owned by someone other than its account's owner ->
-- a person decides who works it.
rule_conflicting_ownership as (
    select
        lead_id,
        'conflicting_ownership' as rule_id,
        cast(null as {{ dbt.type_string() }}) as team,
        cast(null as {{ dbt.type_string() }}) as owner_id,
        {{ dbt.concat([
            "'conflicting ownership: contact '", "contact_id", "' is owned by '", "contact_owner_id",
            "', account '", "account_id", "' by '", "account_owner_id",
        ]) }} as reason
    from leads
    where
        contact_owner_id is not null
        and account_owner_id is not null
        and contact_owner_id <> account_owner_id
),

-- non_buyer_intent: job seekers, students and vendors pitching us are not sales leads.
rule_non_buyer_intent as (
    select
        lead_id,
        'non_buyer_intent' as rule_id,
        cast(null as {{ dbt.type_string() }}) as team,
        cast(null as {{ dbt.type_string() }}) as owner_id,
        {{ dbt.concat(["'not a buyer: intent '", "intent"]) }} as reason
    from leads
    where intent in ('job_seeker', 'student', 'vendor_pitch')
),

-- unclear_intent: the lead wrote something neither the intent rules nor a confident model could read.
rule_unclear_intent as (
    select
        lead_id,
        'unclear_intent' as rule_id,
        cast(null as {{ dbt.type_string() }}) as team,
        cast(null as {{ dbt.type_string() }}) as owner_id,
        'unclear intent: no rule and no confident model reading of the message' as reason
    from leads
    where intent = 'unclear'
),

-- segment_unknown: the territory is known but not the company size (no CRM account, enrichment missing,
-- low confidence or unavailable, self-reported counts not allowed) -> a person sizes the company.
rule_segment_unknown as (
    select
        lead_id,
        'segment_unknown' as rule_id,
        cast(null as {{ dbt.type_string() }}) as team,
        cast(null as {{ dbt.type_string() }}) as owner_id,
        {{ dbt.concat([
            "'segment unknown: enrichment '", "coalesce(enrichment_status, 'missing')",
            "' for '", "coalesce(company_domain, 'no company domain')",
            "case when employees_reported is not null then " ~ dbt.concat([
                "' (self-reported '", as_text("employees_reported"), "', not used)'"]) ~ " else '' end",
        ]) }} as reason
    from leads
    where
        region is not null
        and segment is null
),

-- existing_customer: the lead works at a customer whose account owner is active -> that owner.
rule_existing_customer as (
    select
        lead_id,
        'existing_customer' as rule_id,
        account_owner_team as team,
        account_owner_id as owner_id,
        {{ dbt.concat([
            "'existing customer '", "account_name", "' ('", "account_id", "')'",
            "': account owner '", "coalesce(account_owner_name, account_owner_id)",
        ]) }} as reason
    from leads
    where
        account_status = 'customer'
        and account_owner_is_active
),

-- account_owner_inactive: the matched customer or prospect is owned by someone who is no longer active
-- (or no longer in the CRM) -> a human decides; nobody else silently takes the account.
rule_account_owner_inactive as (
    select
        leads.lead_id,
        'account_owner_inactive' as rule_id,
        leads.account_owner_team as team,
        cast(null as {{ dbt.type_string() }}) as owner_id,
        {{ dbt.concat([
            "'account '", "leads.account_name", "' ('", "leads.account_id", "')'",
            "' is owned by '", "coalesce(leads.account_owner_name, 'unknown owner')",
            "' ('", "leads.account_owner_id", "'), who is inactive: escalate to '",
            "coalesce(teams.escalation_queue, 'revops')",
        ]) }} as reason
    from leads
    left join teams
        on leads.account_owner_team = teams.team
    where
        leads.account_status in ('customer', 'prospect')
        and leads.account_owner_id is not null
        and not coalesce(leads.account_owner_is_active, false)
),

-- owned_prospect: a prospect account with an active owner -> that owner keeps working the account.
rule_owned_prospect as (
    select
        lead_id,
        'owned_prospect' as rule_id,
        account_owner_team as team,
        account_owner_id as owner_id,
        {{ dbt.concat([
            "'prospect account '", "account_name", "' ('", "account_id", "')'",
            "': account owner '", "coalesce(account_owner_name, account_owner_id)",
        ]) }} as reason
    from leads
    where
        account_status = 'prospect'
        and account_owner_is_active
),

-- partner_referral: the lead came through a partner -> the team named on the rule's row in
-- routing_rules (a template such as PARTNER-{region} names one team per region), round robin.
rule_partner_referral as (
    select
        leads.lead_id,
        'partner_referral' as rule_id,
        {{ resolve_team_template('routing_rules.team', 'leads.region', 'leads.segment') }} as team,
        cast(null as {{ dbt.type_string() }}) as owner_id,
        {{ dbt.concat([
            "'partner referral from '", "coalesce(leads.partner_name, leads.partner_id, 'an unnamed partner')",
            "': team '",
            "coalesce(" ~ resolve_team_template('routing_rules.team', 'leads.region', 'leads.segment') ~ ", 'none')",
        ]) }} as reason
    from leads
    inner join routing_rules
        on routing_rules.rule_id = 'partner_referral'
    where
        leads.source = 'partner_referral'
        or leads.partner_id is not null
),

-- special_case: the special_cases seed, first matching case by its own priority. An empty cell matches
-- anything; employee bounds are inclusive.
special_case_matches as (
    select
        leads.lead_id,
        special_cases.case_id,
        special_cases.team,
        special_cases.reason,
        row_number() over (
            partition by leads.lead_id order by special_cases.priority, special_cases.case_id
        ) as case_rank
    from leads
    inner join special_cases
        on
            (special_cases.region is null or leads.region = special_cases.region)
            and (special_cases.country_code is null or leads.country_code = special_cases.country_code)
            and (special_cases.industry is null or lower(special_cases.industry) = leads.industry)
            and (special_cases.min_employees is null or leads.employees >= special_cases.min_employees)
            and (special_cases.max_employees is null or leads.employees <= special_cases.max_employees)
),

rule_special_case as (
    select
        lead_id,
        'special_case' as rule_id,
        team,
        cast(null as {{ dbt.type_string() }}) as owner_id,
        {{ dbt.concat(["reason", "' (special case '", "case_id", "')'"]) }} as reason
    from special_case_matches
    where case_rank = 1
),

-- territory_segment: the territory_teams seed, region x segment -> team, round robin.
rule_territory_segment as (
    select
        leads.lead_id,
        'territory_segment' as rule_id,
        territory_teams.team,
        cast(null as {{ dbt.type_string() }}) as owner_id,
        {{ dbt.concat([
            "'country '", "leads.country_code", "' is in region '", "leads.region",
            "', '", as_text("leads.employees"), "' employees is segment '", "leads.segment",
            "': team '", "territory_teams.team",
        ]) }} as reason
    from leads
    inner join territory_teams
        on
            leads.region = territory_teams.region
            and leads.segment = territory_teams.segment
),

-- no_territory: every lead is a candidate, so with the lowest priority it catches what nothing else took.
rule_no_territory as (
    select
        lead_id,
        'no_territory' as rule_id,
        cast(null as {{ dbt.type_string() }}) as team,
        cast(null as {{ dbt.type_string() }}) as owner_id,
        {{ dbt.concat([
            "'no territory for country '", "coalesce(country_code, 'unknown')",
            "' / segment '", "coalesce(segment, 'unknown')",
        ]) }} as reason
    from leads
),

-- lead_attribute: every routing_rules row of this kind is a rule; it matches a lead when each of its list
-- cells holds the lead's value (empty = anything; a lead without an account has account status 'none').
-- Countries not served, support requests from customers, a title function or seniority to escalate, a
-- spam or junk phrase (intent_rules gives the intent 'spam' or 'junk'): one row each. The row's
-- description is the reason the rep reads.
rule_lead_attribute as (
    select
        leads.lead_id,
        routing_rules.rule_id,
        {{ resolve_team_template('routing_rules.team', 'leads.region', 'leads.segment') }} as team,
        cast(null as {{ dbt.type_string() }}) as owner_id,
        {{ dbt.concat(["routing_rules.description", "' (rule '", "routing_rules.rule_id", "')'"]) }} as reason
    from leads
    inner join routing_rules
        on
            routing_rules.kind = 'lead_attribute'
            and {{ in_policy_list('routing_rules.countries', 'leads.country_code') }}
            and {{ in_policy_list('routing_rules.regions', 'leads.region') }}
            and {{ in_policy_list('routing_rules.segments', 'leads.segment') }}
            and {{ in_policy_list('routing_rules.sources', 'leads.source') }}
            and {{ in_policy_list('routing_rules.intents', 'leads.intent') }}
            and {{ in_policy_list('routing_rules.job_functions', 'leads.job_function') }}
            and {{ in_policy_list('routing_rules.seniorities', 'leads.seniority') }}
            and {{ in_policy_list('routing_rules.account_statuses', "coalesce(leads.account_status, 'none')") }}
),

-- catch_all: every lead is a candidate of every row of this kind; with the lowest priority it takes what
-- nothing else took, to the row's team (template) or, without one, to a person (disposition escalate).
rule_catch_all as (
    select
        leads.lead_id,
        routing_rules.rule_id,
        {{ resolve_team_template('routing_rules.team', 'leads.region', 'leads.segment') }} as team,
        cast(null as {{ dbt.type_string() }}) as owner_id,
        {{ dbt.concat([
            "routing_rules.description", "' (rule '", "routing_rules.rule_id", "': country '",
            "coalesce(leads.country_code, 'unknown')", "', segment '", "coalesce(leads.segment, 'unknown')", "')'",
        ]) }} as reason
    from leads
    inner join routing_rules
        on routing_rules.kind = 'catch_all'
),

candidates as (
    select * from rule_spam
    union all
    select * from rule_policy_sensitive
    union all
    select * from rule_low_confidence_match
    union all
    select * from rule_conflicting_ownership
    union all
    select * from rule_non_buyer_intent
    union all
    select * from rule_unclear_intent
    union all
    select * from rule_segment_unknown
    union all
    select * from rule_existing_customer
    union all
    select * from rule_account_owner_inactive
    union all
    select * from rule_owned_prospect
    union all
    select * from rule_partner_referral
    union all
    select * from rule_special_case
    union all
    select * from rule_territory_segment
    union all
    select * from rule_no_territory
    union all
    select * from rule_lead_attribute
    union all
    select * from rule_catch_all
),

ranked as (
    select
        candidates.lead_id,
        candidates.rule_id,
        routing_rules.disposition,
        candidates.team,
        candidates.owner_id,
        candidates.reason,
        routing_rules.priority as rule_priority,
        routing_rules.waits_for_enrichment,
        row_number() over (
            partition by candidates.lead_id order by routing_rules.priority, candidates.rule_id
        ) as candidate_rank
    from candidates
    inner join routing_rules
        on candidates.rule_id = routing_rules.rule_id
    where routing_rules.enabled
)

select
    ranked.lead_id,
    ranked.rule_id,
    ranked.disposition,
    ranked.team,
    ranked.owner_id,
    ranked.reason,
    ranked.rule_priority,
    ranked.waits_for_enrichment,
    coalesce(ranked.waits_for_enrichment and territories.is_waiting_for_enrichment, false) as is_waiting
from ranked
inner join territories
    on ranked.lead_id = territories.lead_id
where ranked.candidate_rank = 1
