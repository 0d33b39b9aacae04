-- strategy_weights_as_of: the weights table as it was at a past version or time (time travel).
-- inputs:     strategy_weights, pinned with --as-of, e.g.
--               lakehouse query -f sql/strategy_weights_as_of.sql --as-of strategy_weights=3
--               lakehouse query -f sql/strategy_weights_as_of.sql --as-of 2026-11-20T21:00
--             (a version number, or a UTC timestamp: the last version committed by then)
-- parameters: none
-- grain:      one row per (strategy_type, regime) of the latest as_of in that state of the table
--             (regime: the symbol's regime at entry)
-- columns:    as_of, strategy_type, regime, weight, basis, reason, days_in_table (how many
--             as_of days that state of the table held)

with pinned as (
    select *, count(distinct as_of) over () as days_in_table from strategy_weights
)

select as_of, strategy_type, regime, weight, basis, reason, days_in_table
from pinned
where as_of = (select max(as_of) from pinned)
order by strategy_type, regime
