"""Reports and the scheduler that makes them: the hourly SLA digest and the daily KPI report."""
