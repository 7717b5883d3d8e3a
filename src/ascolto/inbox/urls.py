"""The agent console, mounted at /inbox/ (config/urls.py)."""

from django.urls import path

from ascolto.inbox.views import actions, console, macro_pages

app_name = "inbox"
urlpatterns = [
    path("", console.console, name="console"),
    path("conversations/", console.conversation_list, name="list"),
    path("counts/", console.counts, name="counts"),
    path("changes/", console.changes, name="changes"),
    path("availability/", actions.availability, name="availability"),
    path("c/<int:pk>/", console.conversation_detail, name="conversation"),
    path("c/<int:pk>/head/", console.conversation_head, name="head"),
    path("c/<int:pk>/tail/", console.conversation_tail, name="tail"),
    path("c/<int:pk>/macros/<int:macro_id>/", console.macro_preview, name="macro_preview"),
    path("c/<int:pk>/reply/", actions.reply, name="reply"),
    path("c/<int:pk>/status/", actions.set_status, name="status"),
    path("c/<int:pk>/assign/", actions.assign, name="assign"),
    path("c/<int:pk>/priority/", actions.set_priority, name="priority"),
    path("c/<int:pk>/tags/", actions.set_tags, name="tags"),
    path("c/<int:pk>/handling/", actions.handling, name="handling"),
    path("attachments/<int:pk>/", console.attachment, name="attachment"),
    path("macros/", macro_pages.macro_list, name="macros"),
    path("macros/new/", macro_pages.macro_new, name="macro_new"),
    path("macros/<int:macro_id>/", macro_pages.macro_edit, name="macro_edit"),
    path("macros/<int:macro_id>/delete/", macro_pages.macro_delete, name="macro_delete"),
]
