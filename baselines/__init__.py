"""Query strategies the paper compares against and the modern ones users expect, one module per
family, each registered by name with `@register_strategy` behind `vaal_core.Strategy`.
`vaal_core.strategies` imports this package so the names resolve from specs and the CLI.
Random sampling lives in `vaal_core.strategies` (one place) because every experiment needs it.

| name | module | paper |
|---|---|---|
| entropy, margin, least_confidence | uncertainty | Shannon/Settles 2009; Scheffer 2001; Lewis & Gale 1994 |
| mc_dropout, dbal | mc_dropout | Gal, Islam & Ghahramani, ICML 2017 (BALD: Houlsby 2011) |
| ensemble_varr | ensemble | Beluch et al., CVPR 2018 |
| coreset | coreset | Sener & Savarese, ICLR 2018 |
| badge | badge | Ash et al., ICLR 2020 |
| typiclust | typiclust | Hacohen, Dekel & Weinshall, ICML 2022 |
| qbc (segmentation) | qbc | Seung et al., COLT 1992; vote entropy: Dagan & Engelson, ICML 1995 |
| suggestive_annotation (segmentation) | suggestive | Yang et al., MICCAI 2017 |

Segmentation support (`task_kinds`): random, vaal, coreset, mc_dropout, qbc,
suggestive_annotation; the rest are classification-only (a spec error otherwise).
"""

from . import badge, coreset, ensemble, mc_dropout, qbc, suggestive, typiclust, uncertainty

__all__ = [
    "badge",
    "coreset",
    "ensemble",
    "mc_dropout",
    "qbc",
    "suggestive",
    "typiclust",
    "uncertainty",
]
