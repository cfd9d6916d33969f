"""The one place that talks to claims and complaints as a Temporal client: start a claim, send an update, ask a
query, list open claims. The API, the workbench, the command line, the scheduler and the demo all go through it.
Calls name the workflow's own methods (`ClaimWorkflow.approve`), so a renamed update or query is a type error,
not a refusal at run time."""
