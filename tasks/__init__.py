"""The pipeline, one folder per stage (see docs/architecture.md). Imports nothing above it:
no flows, no ceasefire, no Prefect."""
