-- backtest_summary: each strategy's backtest by the latest day, every position marked to market daily.
-- inputs:     backtest_metrics
-- parameters: none (the latest as_of)
-- grain:      one row per strategy_type, 'all' (every strategy together) first, then by Sharpe
-- columns:    as_of, strategy_type, trades (completed), evidence (at least min_trades of them),
--             capital (one capital_per_trade per position alive at the busiest session),
--             equity (capital + realised + unrealised P&L at the close), total_return (marked
--             P&L / capital), sharpe, sortino (daily excess returns over risk_free_rate / 252 of
--             the equity marked at each close, annualized), max_drawdown (of that equity),
--             open_positions, unrealized_pnl (their liquidation value at the close), win_rate,
--             profit_factor, hit_rate, avg_holding_days, total_pnl (realised, completed trades);
--             all net of costs

select
    as_of, strategy_type, trades, evidence, capital, equity, total_return, sharpe, sortino, max_drawdown,
    open_positions, unrealized_pnl, win_rate, profit_factor, hit_rate, avg_holding_days, total_pnl
from backtest_metrics
where as_of = (select max(as_of) from backtest_metrics)
order by strategy_type = 'all' desc, sharpe desc nulls last, strategy_type
