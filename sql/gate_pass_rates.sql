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

shares as (
    select model, horizon, count(*) as decisions, avg(cast(champion as double)) as champion
    from decisions
    group by model, horizon
),

passes as (
    select
        model,
        horizon,
        avg(cast(approved as double)) as approved,
        avg(cast(not list_contains(failed, 'history') as double)) as history,
        avg(cast(not list_contains(failed, 'directional_skill') as double)) as directional_skill,
        avg(cast(not list_contains(failed, 'regime_floor') as double)) as regime_floor,
        avg(cast(not list_contains(failed, 'sector_floor') as double)) as sector_floor,
        avg(cast(not list_contains(failed, 'drift') as double)) as drift,
        avg(cast(not list_contains(failed, 'beats_baseline') as double)) as beats_baseline,
        avg(cast(not list_contains(failed, 'coverage') as double)) as coverage
    from decisions
    where recommendation <> 'BASELINE'
    group by model, horizon
),

final as (
    select shares.*, passes.* exclude (model, horizon)
    from shares
    left join passes using (model, horizon)
)

select * from final
order by horizon, champion desc, model
