"""The pure core: the rules that move money or change a claim's stage, with no Temporal, no database, no clock.

`core.rules` holds the single-purpose rules (payout, authority, the money guard, risk, triage, deadlines);
`core.claim` is the claim's decider, built on them: `decide(state, command) -> events`, `evolve(state, event)
-> state`, `INITIAL`. docs/architecture.md places it at the bottom of the layers; `make lint` checks that nothing
here imports an engine, a database or the network.
"""
