"""Funnel, channel economics, what converts, sales and score-health analytics, computed with the batch engine."""
