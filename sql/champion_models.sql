-- champion_models: the champion of each symbol and horizon on a day, and why.
-- inputs:     model_registry
-- parameters: $as_of (date, YYYY-MM-DD): the latest decision on or before it is shown
-- grain:      one row per (symbol, horizon)
-- columns:    as_of (the decision's day), symbol, horizon, model, recommendation
--             (PROMOTE, or BASELINE when no candidate passed the gate), manual_override,
--             from the gate's metrics over its rolling window: relative_mae (MAE over naive's),
--             balanced_accuracy, coverage_80, coverage_95, dm_pvalue (one-sided Diebold-Mariano
--             against naive) and holm_threshold (what the p-value had to be at or below after
--             Holm's correction over the day's candidates), candidates_approved (how many
--             models passed that day), failed_most (for a BASELINE champion: the check the
--             most candidates failed that day, e.g. beats_baseline)

with decisions as (
    select *
    from model_registry
    where as_of = (select max(as_of) from model_registry where as_of <= cast($as_of as date))
),

approved as (
    select symbol, horizon, count(*) filter (where recommendation = 'PROMOTE') as candidates_approved
    from decisions
    group by symbol, horizon
),

failures as (
    select symbol, horizon, unnest(cast(json(checks_failed) as varchar[])) as check_name
    from decisions
),

failed_most as (
    select symbol, horizon, arg_max(check_name, n) as failed_most
    from (select symbol, horizon, check_name, count(*) as n from failures group by all)
    group by symbol, horizon
),

final as (
    select
        decisions.as_of,
        decisions.symbol,
        decisions.horizon,
        decisions.model,
        decisions.recommendation,
        decisions.manual_override,
        cast(json_extract(decisions.metrics, '$.relative_mae') as double) as relative_mae,
        cast(json_extract(decisions.metrics, '$.balanced_accuracy') as double) as balanced_accuracy,
        cast(json_extract(decisions.metrics, '$.coverage_80') as double) as coverage_80,
        cast(json_extract(decisions.metrics, '$.coverage_95') as double) as coverage_95,
        cast(json_extract(decisions.metrics, '$.dm_pvalue') as double) as dm_pvalue,
        cast(json_extract(decisions.metrics, '$.evidence.beats_baseline.holm_threshold') as double) as holm_threshold,
        approved.candidates_approved,
        case when decisions.recommendation = 'BASELINE' then failed_most.failed_most end as failed_most
    from decisions
    join approved using (symbol, horizon)
    left join failed_most using (symbol, horizon)
    where decisions.champion
)

select * from final
order by symbol, horizon
