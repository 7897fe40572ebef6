"""Predictive scoring: point-in-time features, outcome-trained models, evaluation, backtests, drift."""
