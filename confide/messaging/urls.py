"""The staff inbox's URLs (each with its row in core/routes.py)."""

from django.urls import path

from confide.messaging import views

app_name = "messaging"

urlpatterns = [
    path("inbox/", views.inbox_page, name="inbox"),
    path("inbox/threads/<uuid:thread_id>/", views.thread_page, name="thread"),
    path("inbox/threads/<uuid:thread_id>/assign/", views.thread_assign, name="thread-assign"),
    path("inbox/threads/<uuid:thread_id>/reply/", views.reply, name="reply"),
    path("inbox/attachments/<uuid:attachment_id>/", views.attachment, name="attachment"),
    path("inbox/templates/", views.templates_list, name="templates"),
    path("inbox/templates/new/", views.template_new, name="template-new"),
    path("inbox/templates/<uuid:template_id>/", views.template_edit, name="template-edit"),
    path("inbox/templates/<uuid:template_id>/delete/", views.template_delete, name="template-delete"),
]
