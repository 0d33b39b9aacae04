-- forecast_accuracy: how well each model forecast, per horizon, over a window of target dates.
-- inputs:     forecast_scores
-- parameters: $start and $end (dates, YYYY-MM-DD, inclusive): the target dates scored
-- grain:      one row per (model, horizon), all symbols pooled
-- columns:    model, horizon, forecasts (scored), symbols, rmse, mae (log-return units),
--             smape (mean sMAPE of the implied price against the target close),
--             crps (mean CRPS of the normal forecast, log-return units; lower is better),
--             relative_mae (MAE over the naive model's MAE on the same symbol, origin and
--             horizon: out of sample, not Hyndman's in-sample-scaled MASE; < 1 beats naive),
--             directional_accuracy (share of direction calls that were right),
--             balanced_accuracy (mean of the hit rates on up and on down outcomes; 0.5 for
--             a model that always calls one direction, null without both outcomes),
--             coverage_80, coverage_95 (share of actuals inside the intervals),
--             tracking_error (sample std of the errors), mean_error (bias)

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
        count(*) as forecasts,
        count(distinct symbol) as symbols,
        sqrt(avg(squared_error)) as rmse,
        avg(abs_error) as mae,
        avg(smape) as smape,
        avg(crps) as crps,
        sum(abs_error) filter (where naive_abs_error is not null)
        / nullif(sum(naive_abs_error), 0) as relative_mae,
        avg(cast(hit as double)) as directional_accuracy,
        (
            avg(cast(hit as double)) filter (where actual > 0)
            + avg(cast(hit as double)) filter (where actual < 0)
        ) / 2 as balanced_accuracy,
        avg(cast(covered_80 as double)) as coverage_80,
        avg(cast(covered_95 as double)) as coverage_95,
        stddev_samp(error) as tracking_error,
        avg(error) as mean_error
    from paired
    group by model, horizon
)

select * from final
order by horizon, relative_mae nulls last, model
