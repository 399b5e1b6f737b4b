"""The Keystage engine: pure Python, no Django.

Collection definitions, UPN checks, school-file readers, validation rules, measures, the return
writer and synthetic data. The CLI, the web app, the benchmarks and the tests all call it.
"""
