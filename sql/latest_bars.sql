-- latest_bars: the most recent validated bar of each symbol on or before a day.
-- inputs:     ohlcv_daily
-- parameters: $as_of  (date, YYYY-MM-DD) - the day to look back from
-- grain:      one row per symbol that has a bar on or before $as_of
-- columns:    symbol, date, open, high, low, close, volume, log_return,
--             sessions_stale (trading days between the bar and the latest bar of any symbol)

with bars as (
    select * from ohlcv_daily
    where date <= cast($as_of as date)
),

ranked as (
    select
        *,
        row_number() over (partition by symbol order by date desc) as recency
    from bars
),

latest as (
    select symbol, date, open, high, low, close, volume, log_return
    from ranked
    where recency = 1
),

market_days as (
    select distinct date from bars
),

final as (
    select
        latest.*,
        (
            select count(*) from market_days
            where market_days.date > latest.date
        ) as sessions_stale
    from latest
)

select * from final
order by symbol
