"""Issuing forms: definitions rendered into workbooks (renderer), the registry of issued versions, indicator
identity across versions. Imports xlsx and the rooms below it; never returns, collecting or the desk."""
