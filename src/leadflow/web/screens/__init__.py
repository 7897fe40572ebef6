"""The web app's screens, one module each; ``SCREENS`` lists their routers."""

from leadflow.web.screens import imports, leads, models

SCREENS = [leads.router, models.router, imports.router]
