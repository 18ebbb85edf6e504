-- One row per lead: its job title as received, the normalized title, and the seniority and job function
-- the seed job_title_patterns gives it. Seniority and function are decided apart ("VP Sales": seniority
-- from "vp", function from "sales"): for each, the matching pattern with the lowest priority that sets it
-- wins; ties go to the pattern found earliest in the title ("VP Sales & Marketing" is sales), then to the
-- longer pattern. Nothing matched: seniority 'unknown', function 'other'.
--
-- Titles and patterns are normalized by the same expression, so an analyst writes "Co-Founder" or
-- "Geschäftsführer" in the seed as people type them: lower-cased, accents folded (ä -> a, é -> e),
-- dots dropped (V.P. -> vp), other punctuation and tabs/newlines turned into spaces, spaces folded.
-- translate() and replace() only: regexp_replace replaces the first match on DuckDB and all of them on
-- Spark. translate() maps character to character and deletes the characters it has no counterpart for.
{%- set character_folds = [
    ('à', 'a'), ('á', 'a'), ('â', 'a'), ('ã', 'a'), ('ä', 'a'), ('å', 'a'), ('ç', 'c'),
    ('è', 'e'), ('é', 'e'), ('ê', 'e'), ('ë', 'e'), ('ì', 'i'), ('í', 'i'), ('î', 'i'), ('ï', 'i'),
    ('ñ', 'n'), ('ò', 'o'), ('ó', 'o'), ('ô', 'o'), ('õ', 'o'), ('ö', 'o'), ('ø', 'o'),
    ('ù', 'u'), ('ú', 'u'), ('û', 'u'), ('ü', 'u'), ('ý', 'y'), ('ÿ', 'y'),
] -%}
{%- set separators = [',', '/', '-', '&', '(', ')', '|', ':', ';', '_', '+', '[', ']', '!', '?', '#', '*', '"', "'", '@'] -%}
{#- Characters past the end of the "to" list are deleted: dots, so that V.P. is vp and Sr. is sr. -#}
{%- set translate_from = (character_folds | map(attribute=0) | join) ~ (separators | join) ~ '.' -%}
{%- set translate_to = (character_folds | map(attribute=1) | join) ~ (' ' * (separators | length)) -%}
{%- set normalized = namespace(sql="translate(lower(__text__), " ~ string_literal(translate_from)
    ~ ", '" ~ translate_to ~ "')") -%}
{%- for search, replacement in [('æ', 'ae'), ('œ', 'oe'), ('ß', 'ss')] -%}
    {%- set normalized.sql = "replace(" ~ normalized.sql ~ ", '" ~ search ~ "', '" ~ replacement ~ "')" -%}
{%- endfor -%}
{%- for control_character in [9, 10, 13] -%}
    {%- set normalized.sql = "replace(" ~ normalized.sql ~ ", chr(" ~ control_character ~ "), ' ')" -%}
{%- endfor -%}
{#- Each pass halves every run of spaces: seven passes fold runs of up to 128. -#}
{%- for _ in range(7) -%}
    {%- set normalized.sql = "replace(" ~ normalized.sql ~ ", '  ', ' ')" -%}
{%- endfor -%}
{%- set normalized_sql = "nullif(trim(" ~ normalized.sql ~ "), '')" %}

with leads as (
    select
        lead_id,
        job_title
    from {{ ref('int_identify_leads') }}
),

patterns as (
    select
        {{ normalized_sql | replace('__text__', 'pattern') }} as pattern,
        match_type,
        seniority,
        job_function,
        priority
    from {{ ref('job_title_patterns') }}
),

-- Titles repeat (CEO, Founder, ...): each distinct raw title is normalized once, each distinct normalized
-- title classified once.
raw_titles as (
    select distinct job_title
    from leads
    where job_title is not null
),

normalized_titles as (
    select
        job_title,
        {{ normalized_sql | replace('__text__', 'job_title') }} as job_title_normalized
    from raw_titles
),

titles as (
    select distinct job_title_normalized
    from normalized_titles
    where job_title_normalized is not null
),

-- One join per match type, so the exact matches are a hash join. Whole words without regular
-- expressions: the title and the pattern wrapped in spaces, so "cto" is found in "cto co founder" but not
-- in "director", and "intern" not in "international". 'substring' ignores word boundaries, for compounds
-- (Vertriebsleiter) and scripts written without spaces (部長).
{#- Per match type: where in the title the pattern was found (a tie-break), and the join condition. -#}
{%- set whole_word_position = dbt.position(
    dbt.concat(["' '", "patterns.pattern", "' '"]),
    dbt.concat(["' '", "titles.job_title_normalized", "' '"])
) -%}
{%- set match_types = {
    'exact': ('1', 'titles.job_title_normalized = patterns.pattern'),
    'prefix': ('1', dbt.position(
        dbt.concat(["patterns.pattern", "' '"]),
        dbt.concat(["titles.job_title_normalized", "' '"])
    ) ~ ' = 1'),
    'contains': (whole_word_position, whole_word_position ~ ' > 0'),
    'substring': (
        dbt.position('patterns.pattern', 'titles.job_title_normalized'),
        dbt.position('patterns.pattern', 'titles.job_title_normalized') ~ ' > 0'
    ),
} %}

matches as (
    {%- for match_type, (found_at, condition) in match_types.items() %}
        select
            titles.job_title_normalized,
            patterns.pattern,
            patterns.seniority,
            patterns.job_function,
            patterns.priority,
            {{ found_at }} as found_at
        from titles
        inner join patterns
            on
                patterns.match_type = '{{ match_type }}'
                and {{ condition }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

ranked_seniorities as (
    select
        job_title_normalized,
        seniority,
        row_number() over (
            partition by job_title_normalized
            order by priority, found_at, {{ dbt.length('pattern') }} desc, pattern
        ) as seniority_rank
    from matches
    where seniority is not null
),

ranked_functions as (
    select
        job_title_normalized,
        job_function,
        row_number() over (
            partition by job_title_normalized
            order by priority, found_at, {{ dbt.length('pattern') }} desc, pattern
        ) as function_rank
    from matches
    where job_function is not null
)

select
    leads.lead_id,
    leads.job_title,
    normalized_titles.job_title_normalized,
    coalesce(ranked_seniorities.seniority, 'unknown') as seniority,
    coalesce(ranked_functions.job_function, 'other') as job_function
from leads
left join normalized_titles
    on leads.job_title = normalized_titles.job_title
left join ranked_seniorities
    on
        normalized_titles.job_title_normalized = ranked_seniorities.job_title_normalized
        and ranked_seniorities.seniority_rank = 1
left join ranked_functions
    on
        normalized_titles.job_title_normalized = ranked_functions.job_title_normalized
        and ranked_functions.function_rank = 1
