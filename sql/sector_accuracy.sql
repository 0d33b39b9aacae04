-- sector_accuracy: accuracy and P&L of completed predictions by sector and by sector and regime.
-- inputs:     sector_performance
-- parameters: none (the latest as_of)
-- grain:      one row per (sector, regime); regime: the symbol's regime at entry, '*' the
--             sector as a whole
-- columns:    as_of, sector, regime, predictions, correct, accuracy (sign of the predicted
--             return = sign of the actual), total_pnl, mean_pnl_pct, weakest_rank (1 = the
--             weakest sector with enough predictions; sector rows only)

select as_of, sector, regime, predictions, correct, accuracy, total_pnl, mean_pnl_pct, weakest_rank
from sector_performance
where as_of = (select max(as_of) from sector_performance) and symbol = '*'
order by sector, regime = '*' desc, regime
