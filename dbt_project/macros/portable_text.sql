{% macro fold_accents(expression) -%}
    {#- `expression` (lower case) with its accents removed: 'é' -> 'e'. -#}
    {{ return(adapter.dispatch('fold_accents')(expression)) }}
{%- endmacro %}

{% macro default__fold_accents(expression) -%}
    strip_accents({{ expression }})
{%- endmacro %}

{% macro spark__fold_accents(expression) -%}
    {#- Spark has no strip_accents: every lower-case letter of Latin-1 and Latin Extended-A that Unicode
        decomposes into a base letter and accents (80 letters, the same answers as DuckDB's strip_accents
        for them), by translate(). Accents outside these blocks stay on Spark. -#}
    translate(
        {{ expression }},
        'àáâãäåçèéêëìíîïñòóôõöùúûüýÿāăąćĉċčďēĕėęěĝğġģĥĩīĭįĵķĺļľńņňōŏőŕŗřśŝşšţťũūŭůűųŵŷźżž',
        'aaaaaaceeeeiiiinooooouuuuyyaaaccccdeeeeegggghiiiijklllnnnooorrrssssttuuuuuuwyzzz'
    )
{%- endmacro %}

{% macro regexp_replace_all(expression, pattern, replacement) -%}
    {#- Every match of `pattern` (a Python string, regular expression syntax both engines share, e.g.
        '[^a-z]+' or '\x{200B}') replaced by `replacement`: DuckDB replaces only the first match unless
        told 'g', Spark always replaces all. -#}
    {{ return(adapter.dispatch('regexp_replace_all')(expression, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}

{% macro spark__regexp_replace_all(expression, pattern, replacement) -%}
    {#- Spark string literals read a backslash as an escape: double it so Java's regex sees '\x{...}'. -#}
    regexp_replace({{ expression }}, '{{ pattern | replace("\\", "\\\\") }}', '{{ replacement }}')
{%- endmacro %}

{% macro string_literal(text) -%}
    {#- `text` as a SQL string literal. DuckDB doubles a quote inside one; Spark reads '' as two adjacent
        literals joined (so 'a''b' is 'ab') and escapes with a backslash instead. -#}
    {{ return(adapter.dispatch('string_literal')(text)) }}
{%- endmacro %}

{% macro default__string_literal(text) -%}
    '{{ text | replace("'", "''") }}'
{%- endmacro %}

{% macro spark__string_literal(text) -%}
    '{{ text | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}
