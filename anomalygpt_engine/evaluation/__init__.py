"""Evaluation on MVTec-layout data: datasets, metrics, runners."""
