-- promotion_history: every change of a model's gate verdict, and every change of champion.
-- inputs:     model_registry
-- parameters: none
-- grain:      one row per (symbol, horizon, model, day) on which the recommendation or the
--             champion flag differs from the previous decision (the first decision included)
-- columns:    as_of, symbol, horizon, model, recommendation, previous_recommendation,
--             champion, manual_override, checks_failed (JSON list), checks_passed (JSON list)

with ordered as (
    select
        *,
        lag(recommendation) over w as previous_recommendation,
        lag(champion) over w as previous_champion
    from model_registry
    window w as (partition by symbol, horizon, model order by as_of)
),

final as (
    select
        as_of,
        symbol,
        horizon,
        model,
        recommendation,
        previous_recommendation,
        champion,
        manual_override,
        checks_failed,
        checks_passed
    from ordered
    where previous_recommendation is null
        or recommendation <> previous_recommendation
        or champion <> previous_champion
)

select * from final
order by as_of, symbol, horizon, model
