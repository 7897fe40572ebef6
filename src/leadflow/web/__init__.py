"""The web app (server-rendered Jinja2 + HTMX) for marketers, SDRs and their managers."""
