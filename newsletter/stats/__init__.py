"""Aggregate queries for the statistics pages and the API: per issue, per newsletter, over time.

Modules: `issues` (delivery counts, feedback, the unsubscribes an issue caused), `newsletters` (readers now
and over time), `periods` (time buckets), `reasons` (why readers left), `records` (the rows the CSV files and
the JSON API share), `charts` (SVG geometry), `attribution` (which issue an unsubscribe is put down to).
"""
