"""Policy as code: the privacy declaration (categories, purposes, processors, retention, age
rule, regimes, contacts) that the code enforces and the notice renders; per-practice versions;
the egress gate. See docs/architecture.md, "Policy as code"."""
