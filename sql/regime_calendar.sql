-- regime_calendar: the spells of each regime, symbol by symbol.
-- inputs:     market_regimes
-- parameters: none
-- grain:      one row per spell: a run of consecutive sessions of a symbol with the same
--             regime (warm-up rows without a label are left out)
-- columns:    symbol, regime, start_date, end_date, sessions (the spell's length in
--             sessions), calendar_days (end - start + 1)

with numbered as (
    select
        symbol,
        date,
        regime,
        row_number() over (partition by symbol order by date)
        - row_number() over (partition by symbol, regime order by date) as island
    from market_regimes
),

labelled as (
    select * from numbered
    where regime is not null
),

final as (
    select
        symbol,
        regime,
        min(date) as start_date,
        max(date) as end_date,
        count(*) as sessions,
        date_diff('day', min(date), max(date)) + 1 as calendar_days
    from labelled
    group by symbol, regime, island
)

select * from final
order by symbol, start_date
