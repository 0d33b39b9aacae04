-- backtest_summary: each strategy's backtest over every prediction completed by the latest day.
-- inputs:     backtest_metrics
-- parameters: none (the latest as_of)
-- grain:      one row per strategy_type, 'all' (every strategy together) first
-- columns:    as_of, strategy_type, trades, evidence (at least min_trades realised trades),
--             capital (one capital_per_trade per position open at the busiest session),
--             total_return, sharpe, sortino, max_drawdown, win_rate, profit_factor, hit_rate,
--             avg_holding_days, total_pnl; all net of costs

select
    as_of, strategy_type, trades, evidence, capital, total_return, sharpe, sortino, max_drawdown,
    win_rate, profit_factor, hit_rate, avg_holding_days, total_pnl
from backtest_metrics
where as_of = (select max(as_of) from backtest_metrics)
order by strategy_type = 'all' desc, sharpe desc nulls last
