-- gate_pass_rates: how often each model won, and how often it passed each check of the
-- promotion gate, per horizon, over a range of decision days.
-- inputs:     model_registry
-- parameters: $start and $end (dates, YYYY-MM-DD, inclusive): the decision days (as_of)
-- grain:      one row per (model, horizon); naive's check columns are null (it is the baseline)
-- columns:    model, horizon, decisions (symbol-days), champion (share of them on which it was
--             the champion), approved (share that passed every check), then per check the
--             share of decisions on which it passed: history, directional_skill,
--             regime_floor, sector_floor, drift, beats_baseline (Holm-corrected
--             Diebold-Mariano), coverage (80% and 95% bands)

with decisions as (
    select
        *,
        cast(json(checks_failed) as varchar[]) as failed
    from model_registry
    where as_of between cast($start as date) and cast($end as date)
),

final as (
    select
        model,
        horizon,
        count(*) as decisions,
        avg(cast(champion as double)) as champion,
        avg(cast(approved as double)) filter (where recommendation <> 'BASELINE') as approved,
        avg(cast(not list_contains(failed, 'history') as double))
            filter (where recommendation <> 'BASELINE') as history,
        avg(cast(not list_contains(failed, 'directional_skill') as double))
            filter (where recommendation <> 'BASELINE') as directional_skill,
        avg(cast(not list_contains(failed, 'regime_floor') as double))
            filter (where recommendation <> 'BASELINE') as regime_floor,
        avg(cast(not list_contains(failed, 'sector_floor') as double))
            filter (where recommendation <> 'BASELINE') as sector_floor,
        avg(cast(not list_contains(failed, 'drift') as double))
            filter (where recommendation <> 'BASELINE') as drift,
        avg(cast(not list_contains(failed, 'beats_baseline') as double))
            filter (where recommendation <> 'BASELINE') as beats_baseline,
        avg(cast(not list_contains(failed, 'coverage') as double))
            filter (where recommendation <> 'BASELINE') as coverage
    from decisions
    group by model, horizon
)

select * from final
order by horizon, champion desc, model
