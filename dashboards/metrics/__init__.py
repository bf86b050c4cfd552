"""Metric and label names of each pinned exporter version, one module per version.

A dashboard imports the module of the version the stack deploys; when the pin
moves, a new module is added next to the old one and the dashboards switch
their import, so a rename shows up as a diff in one place (and the metric
contract test in tests/dashboards proves the new names against that version's
output).
"""
