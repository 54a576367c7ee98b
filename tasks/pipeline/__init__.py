"""The pipeline as a run takes it: the steps (steps), the run frame and batch loop (run), what a
run reads (inputs), and the runs themselves (runs), shared by the CLI's plain runs and the
Prefect flows."""
