-- variance_by_strategy_regime: the latest variance analysis, per strategy and per (strategy, regime).
-- inputs:     variance_analysis, strategy_weights
-- parameters: none (the latest as_of in the lake; pin an older state with --as-of)
-- grain:      one row per (strategy_type, regime); regime: the symbol's regime at entry,
--             'all' the strategy as a whole
-- columns:    as_of, strategy_type, regime, predictions (completed in the lookback window),
--             mae, mse, mean_error (predicted - actual, fractions of the capital at risk),
--             mean_abs_actual (the MAE of predicting 0), relative_mae (mae / mean_abs_actual:
--             0 exact, 1 no better than 0), weight_adjustment (1 - min(relative_mae /
--             relative_mae_scale, factor); null when too few predictions), sufficient, weight
--             (the regime's scoring weight that day; null for 'all'), basis, reason

with latest as (
    select * from variance_analysis where as_of = (select max(as_of) from variance_analysis)
),

final as (
    select
        latest.as_of,
        latest.strategy_type,
        latest.regime,
        latest.predictions,
        latest.mae,
        latest.mse,
        latest.mean_error,
        latest.mean_abs_actual,
        latest.relative_mae,
        latest.weight_adjustment,
        latest.sufficient,
        strategy_weights.weight,
        strategy_weights.basis,
        coalesce(latest.reason, strategy_weights.reason) as reason
    from latest
    left join strategy_weights using (as_of, strategy_type, regime)
)

select * from final
order by strategy_type, regime = 'all' desc, regime
