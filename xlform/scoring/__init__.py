"""Targets (年度指标值) and how an indicator is scored: profiles, rules, the formulas written and their Python
twins. Imports only the base modules."""
