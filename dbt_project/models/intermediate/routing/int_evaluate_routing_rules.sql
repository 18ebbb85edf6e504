-- The routing rules. Each CTE below is one rule: it lists the leads the rule applies to, the team or owner
-- it sends them to and the reason a rep will read. All candidates are then ranked by the rule's priority
-- in the routing_rules seed (lower first; disabled rules are ignored) and the first match wins.
--
-- To change WHO gets WHAT, edit the seeds (routing_rules, territory_teams, special_cases, spam_signals,
-- segment_bands, country_regions, teams). To add a new KIND of rule, add a CTE here, a row in
-- routing_rules and a unit test in _routing__models.yml.
--
-- A candidate with a team but no owner is round-robined among the team's active owners in lead_decisions
-- (those rule ids are listed in macro round_robin_rule_ids).
with leads as (
    select * from {{ ref('int_assign_lead_territories') }}
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
-- routing_rules, round robin.
rule_partner_referral as (
    select
        leads.lead_id,
        'partner_referral' as rule_id,
        routing_rules.team,
        cast(null as {{ dbt.type_string() }}) as owner_id,
        {{ dbt.concat([
            "'partner referral from '", "coalesce(leads.partner_name, leads.partner_id, 'an unnamed partner')",
            "': team '", "coalesce(routing_rules.team, 'none')",
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

candidates as (
    select * from rule_spam
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
        row_number() over (
            partition by candidates.lead_id order by routing_rules.priority, candidates.rule_id
        ) as candidate_rank
    from candidates
    inner join routing_rules
        on candidates.rule_id = routing_rules.rule_id
    where routing_rules.enabled
)

select
    lead_id,
    rule_id,
    disposition,
    team,
    owner_id,
    reason,
    rule_priority
from ranked
where candidate_rank = 1
