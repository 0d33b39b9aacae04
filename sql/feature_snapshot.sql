-- feature_snapshot: every feature of one symbol over a date range, with its regime labels.
-- inputs:     features, market_regimes
-- parameters: $symbol (text), $start and $end (dates, YYYY-MM-DD, inclusive)
-- grain:      one row per session of $symbol in [$start, $end] that has features
-- columns:    symbol, date, close, the feature columns (see docs in core/features.py),
--             regime, trend, market_regime, market_trend (null while warming up)

with snapshot as (
    select *
    from features
    where symbol = $symbol
      and date between cast($start as date) and cast($end as date)
),

final as (
    select
        snapshot.*,
        regimes.regime,
        regimes.trend,
        regimes.market_regime,
        regimes.market_trend
    from snapshot
    left join market_regimes as regimes
        on regimes.symbol = snapshot.symbol and regimes.date = snapshot.date
)

select * from final
order by date
