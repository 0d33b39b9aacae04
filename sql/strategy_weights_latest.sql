-- strategy_weights_latest: the weights that score the next session's entries.
-- inputs:     strategy_weights
-- parameters: none (the latest as_of)
-- grain:      one row per (strategy_type, regime); regime: the symbol's regime at entry
-- columns:    as_of, strategy_type, regime, weight = base_weight x variance_adjustment x
--             regime_adjustment, the three factors, basis (strategy_regime | strategy | base), reason

select as_of, strategy_type, regime, weight, base_weight, variance_adjustment, regime_adjustment, basis, reason
from strategy_weights
where as_of = (select max(as_of) from strategy_weights)
order by strategy_type, regime
