-- prediction_ledger: strategy predictions entered in a date window, with their actuals.
-- inputs:     strategy_predictions
-- parameters: $start, $end (dates, YYYY-MM-DD): entry dates, inclusive
-- grain:      one row per prediction_id
-- columns:    date (entry), symbol, strategy_type, direction, regime_at_entry, predicted_score,
--             predicted_return_pct, entry_price, exit_date, exit_reason, holding_days,
--             actual_pnl_pct, actual_pnl, prediction_error (null while the position is open),
--             status (open | closed), prediction_id

select
    date,
    symbol,
    strategy_type,
    direction,
    regime_at_entry,
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
