-- champion_models: the champion of each symbol and horizon on a day, and why.
-- inputs:     model_registry
-- parameters: $as_of (date, YYYY-MM-DD): the latest decision on or before it is shown
-- grain:      one row per (symbol, horizon)
-- columns:    symbol, horizon, as_of (the decision's day), model, recommendation
--             (PROMOTE, or BASELINE when no candidate passed the gate), manual_override,
--             mase, directional_accuracy, coverage_95, dm_pvalue (from the gate's metrics),
--             candidates_approved (how many models passed that day)

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

final as (
    select
        decisions.symbol,
        decisions.horizon,
        decisions.as_of,
        decisions.model,
        decisions.recommendation,
        decisions.manual_override,
        cast(json_extract(decisions.metrics, '$.mase') as double) as mase,
        cast(json_extract(decisions.metrics, '$.directional_accuracy') as double) as directional_accuracy,
        cast(json_extract(decisions.metrics, '$.coverage_95') as double) as coverage_95,
        cast(json_extract(decisions.metrics, '$.dm_pvalue') as double) as dm_pvalue,
        approved.candidates_approved
    from decisions
    join approved using (symbol, horizon)
    where decisions.champion
)

select * from final
order by symbol, horizon
