-- prediction_ledger: strategy predictions entered in a date window, with their actuals.
-- inputs:     strategy_predictions
-- parameters: $start, $end (dates, YYYY-MM-DD): entry dates, inclusive
-- grain:      one row per prediction_id
-- columns:    date (entry), symbol, strategy_type, direction, regime_at_entry (the symbol's
--             regime on the signal day), market_regime_at_entry (the index's), predicted_score,
--             predicted_return_pct (the expected realized return under the strategy's own exits,
--             in the actual's units: spreads on max loss, directional trades on the notional),
--             entry_price, exit_date, exit_reason, holding_days, actual_pnl_pct, actual_pnl,
--             prediction_error (predicted - actual; null while the position is open),
--             status (open | closed), prediction_id

select
    date,
    symbol,
    strategy_type,
    direction,
    regime_at_entry,
    market_regime_at_entry,
    round(predicted_score, 1) as predicted_score,
    predicted_return_pct,
    entry_price,
    exit_date,
    exit_reason,
    holding_days,
    actual_pnl_pct,
    actual_pnl,
    prediction_error,
    case when exit_date is null then 'open' else 'closed' end as status,
    prediction_id
from strategy_predictions
where date between cast($start as date) and cast($end as date)
order by date, symbol, strategy_type
