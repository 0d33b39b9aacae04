-- forecast_accuracy_by_regime: forecast accuracy per model and horizon, split by the market
-- regime of the origin date (normal, high_volatility, crash, recovery; null while warming up).
-- inputs:     forecast_scores
-- parameters: $start and $end (dates, YYYY-MM-DD, inclusive): the target dates scored
-- grain:      one row per (model, horizon, regime)
-- columns:    model, horizon, regime, forecasts, rmse, mae, relative_mae (MAE over naive's on
--             the same symbol, origin and horizon), directional_accuracy, balanced_accuracy
--             (mean of the hit rates on up and on down outcomes), coverage_80, coverage_95

with scored as (
    select *
    from forecast_scores
    where target_date between cast($start as date) and cast($end as date)
),

paired as (
    select
        scored.*,
        naive.abs_error as naive_abs_error
    from scored
    left join scored as naive
        on naive.model = 'naive'
        and naive.symbol = scored.symbol
        and naive.date = scored.date
        and naive.horizon = scored.horizon
),

final as (
    select
        model,
        horizon,
        regime,
        count(*) as forecasts,
        sqrt(avg(squared_error)) as rmse,
        avg(abs_error) as mae,
        sum(abs_error) filter (where naive_abs_error is not null)
        / nullif(sum(naive_abs_error), 0) as relative_mae,
        avg(cast(hit as double)) as directional_accuracy,
        (
            avg(cast(hit as double)) filter (where actual > 0)
            + avg(cast(hit as double)) filter (where actual < 0)
        ) / 2 as balanced_accuracy,
        avg(cast(covered_80 as double)) as coverage_80,
        avg(cast(covered_95 as double)) as coverage_95
    from paired
    group by model, horizon, regime
)

select * from final
order by horizon, regime nulls first, relative_mae nulls last, model
