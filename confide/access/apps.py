from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "confide.access"
    label = "access"
    verbose_name = "Chart door"

    def ready(self) -> None:
        from django.urls import reverse

        from confide.access.services import count_unreviewed_break_glass
        from confide.core.dashboard import Waiting, register
        from confide.core.permissions import Perm

        register(Waiting("break-glass", "Break-the-glass openings to review", Perm.BREAK_GLASS_REVIEW,
                         count_unreviewed_break_glass, lambda actor: reverse("access:break-glass-report"), order=30))  # fmt: skip
