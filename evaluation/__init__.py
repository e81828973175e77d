"""Metrics, rolling-origin backtests and (later) claim evaluation."""
