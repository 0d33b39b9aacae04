-- forecast_accuracy: how well each model forecast, per horizon, over a window of target dates.
-- inputs:     forecast_scores
-- parameters: $start and $end (dates, YYYY-MM-DD, inclusive): the target dates scored
-- grain:      one row per (model, horizon), all symbols pooled
-- columns:    model, horizon, forecasts (scored), symbols, rmse, mae, smape (mean),
--             mase (MAE over the naive model's MAE on the same symbol, origin and horizon),
--             directional_accuracy (share of direction calls that were right),
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
        sum(abs_error) filter (where naive_abs_error is not null)
        / nullif(sum(naive_abs_error), 0) as mase,
        avg(cast(hit as double)) as directional_accuracy,
        avg(cast(covered_80 as double)) as coverage_80,
        avg(cast(covered_95 as double)) as coverage_95,
        stddev_samp(error) as tracking_error,
        avg(error) as mean_error
    from paired
    group by model, horizon
)

select * from final
order by horizon, mase nulls last, model
