"""Query strategies the paper compares against (core-set, MC-dropout, DBAL, ensembles with
variation ratio, QBC, ...). Each subclasses `vaal_core.Strategy` and registers itself by name with
`@register_strategy`; `vaal_core` imports this package so the names resolve from specs and the CLI.
Random sampling lives in `vaal_core.strategies` because every experiment needs it."""
