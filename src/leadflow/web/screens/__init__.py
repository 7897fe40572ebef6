"""The web app's screens, one module each; ``SCREENS`` lists their routers."""

from leadflow.web.screens import dashboards, imports, leads, models, queue, users

SCREENS = [leads.router, models.router, imports.router, dashboards.router, queue.router, users.router]
