-- quarantine_summary: what was rejected, where, and why.
-- inputs:     quarantine
-- parameters: none
-- grain:      one row per (table_name, rule) - the rule is the reason up to its first ':'
--             (e.g. 'high < max(open, close)' for every row that broke that bound)
-- columns:    table_name, rule, rows, symbols, files, first_date, last_date, example

with rejected as (
    select
        table_name,
        split_part(reason, ':', 1) as rule,
        reason,
        symbol,
        file,
        date
    from quarantine
),

final as (
    select
        table_name,
        rule,
        count(*) as rows,
        count(distinct symbol) as symbols,
        count(distinct file) as files,
        min(date) as first_date,
        max(date) as last_date,
        min(reason) as example
    from rejected
    group by table_name, rule
)

select * from final
order by table_name, rows desc, rule
