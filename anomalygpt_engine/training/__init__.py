"""Training loops (decoder, prompt learner): CPU-feasible, resumable, deterministic."""
