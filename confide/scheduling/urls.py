"""The calendar's URLs (each with its row in core/routes.py)."""

app_name = "scheduling"

urlpatterns: list = []
