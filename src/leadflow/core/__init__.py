"""The pure domain core of leadflow.

Nothing under ``leadflow.core`` may import a web, database or dataframe library (checked by import-linter,
see ``pyproject.toml``). Scoring maths, the lifecycle state machine and event validation live here; services
orchestrate them and the store persists what they return.
"""
