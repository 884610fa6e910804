"""The practice's public face (each URL with its row in core/routes.py)."""

app_name = "directory"

urlpatterns: list = []
