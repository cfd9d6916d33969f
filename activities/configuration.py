"""Hands the rule tables in force to a claim at its start (recorded in its history from then on)."""

from __future__ import annotations

from temporalio import activity

from config.rules import load_rules
from config.settings import Settings
from models.messages import Rules


class ConfigurationActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @activity.defn(no_thread_cancel_exception=True)
    def load_rules(self) -> Rules:
        return load_rules(self.settings)
