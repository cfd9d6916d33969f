"""Data: the workflow/activity contract (plain pydantic) and the database rows (SQLModel)."""
