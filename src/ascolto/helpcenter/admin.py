from django.contrib import admin

from ascolto.core.admin import register_read_only
from ascolto.helpcenter.models import (
    Article,
    ArticleTranslation,
    Category,
    Feedback,
    IndexVersion,
    Revision,
    SearchQuery,
)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin[Category]):
    list_display = ["slug", "workspace", "position"]
    list_filter = ["workspace"]


class TranslationInline(admin.StackedInline[ArticleTranslation, Article]):
    model = ArticleTranslation
    extra = 0
    fields = ["language", "slug", "title", "body_markdown"]
    readonly_fields = ["language", "slug", "title", "body_markdown"]
    can_delete = False


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin[Article]):
    list_display = ["slug", "workspace", "status", "view_count", "updated_at"]
    list_filter = ["workspace", "status"]
    search_fields = ["slug", "translations__title"]
    # Edits go through the staff editor, which renders, sanitises and keeps revisions.
    readonly_fields = ["status", "view_count", "published_at"]
    inlines = [TranslationInline]


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin[Feedback]):
    list_display = ["article", "language", "helpful", "created_at"]
    list_filter = ["workspace", "helpful", "language"]


@admin.register(Revision)
class RevisionAdmin(admin.ModelAdmin[Revision]):
    list_display = ["translation", "author", "created_at"]

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(SearchQuery)
class SearchQueryAdmin(admin.ModelAdmin[SearchQuery]):
    list_display = ["query", "language", "result_count", "top_score", "created_at"]
    list_filter = ["workspace", "language"]


register_read_only(ArticleTranslation, IndexVersion)
