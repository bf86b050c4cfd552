"""Example applications wired with backend_metrics."""
