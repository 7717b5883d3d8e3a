"""Help center: categories, articles, their translations and revisions, feedback, search log."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from ascolto.core.models import Workspace, WorkspaceScopedModel


class Language(models.TextChoices):
    EN = "en", _("English")
    IT = "it", _("Italian")
    HE = "he", _("Hebrew")


RTL_LANGUAGES = frozenset({Language.HE.value})


class Category(WorkspaceScopedModel):
    slug = models.SlugField(_("slug"), max_length=80)
    position = models.PositiveIntegerField(_("position"), default=0)
    # {"en": "Billing", "it": "Fatturazione"}: a category's name in each language it has.
    names = models.JSONField(_("names"), default=dict, blank=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["position", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "slug"], name="hc_category_slug_unique")
        ]

    def __str__(self) -> str:
        return self.slug

    def name_in(self, language: str) -> str:
        return str(self.names.get(language) or self.names.get("en") or self.slug)


class Article(WorkspaceScopedModel):
    """One piece of help; its text lives in one translation per language."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="articles"
    )
    slug = models.SlugField(_("slug"), max_length=120)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    view_count = models.PositiveBigIntegerField(_("views"), default=0)

    class Meta:
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "slug"], name="hc_article_slug_unique")
        ]
        indexes = [models.Index(fields=["workspace", "status", "-view_count"], name="hc_popular")]

    def __str__(self) -> str:
        return self.slug

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


class ArticleTranslation(models.Model):
    """An article in one language. `body_html` is the sanitised rendering of `body_markdown`,
    kept so pages never render markdown; `embedding` (float32 bytes) is the sentence
    embedding of title and body, kept so a restart does not recompute it."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(_("language"), max_length=8, choices=Language.choices)
    slug = models.SlugField(_("slug"), max_length=120, allow_unicode=True)
    title = models.CharField(_("title"), max_length=250)
    body_markdown = models.TextField(_("body"), blank=True, default="")
    body_html = models.TextField(blank=True, default="")
    body_text = models.TextField(blank=True, default="")
    embedding = models.BinaryField(null=True, blank=True)
    embedding_model = models.CharField(max_length=60, blank=True, default="")
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("article translation")
        verbose_name_plural = _("article translations")
        constraints = [
            models.UniqueConstraint(fields=["article", "language"], name="hc_translation_once"),
            models.UniqueConstraint(
                fields=["workspace", "language", "slug"], name="hc_translation_slug_unique"
            ),
        ]
        indexes = [models.Index(fields=["workspace", "language"], name="hc_translation_lang")]

    def __str__(self) -> str:
        return f"{self.title} ({self.language})"


class Revision(models.Model):
    """One saved edit of a translation, as it was. Append-only."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    translation = models.ForeignKey(
        ArticleTranslation, on_delete=models.CASCADE, related_name="revisions"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    title = models.CharField(max_length=250)
    body_markdown = models.TextField(blank=True, default="")

    class Meta:
        verbose_name = _("revision")
        verbose_name_plural = _("revisions")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.translation_id} @ {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Integrity guard, not domain logic: the history must stay as it was written.
        if self.pk is not None and not self._state.adding:
            raise PermissionError("Revisions cannot be changed.")
        super().save(*args, **kwargs)


class Feedback(models.Model):
    """A reader's answer to "Was this article helpful?"."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="feedback")
    language = models.CharField(max_length=8, choices=Language.choices)
    helpful = models.BooleanField()
    reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=now)

    class Meta:
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        indexes = [models.Index(fields=["workspace", "article"], name="hc_feedback_article")]

    def __str__(self) -> str:
        return f"{self.article_id}: {'yes' if self.helpful else 'no'}"


class SearchQuery(models.Model):
    """One search of the public help center, for the content-gap report."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    language = models.CharField(max_length=8, choices=Language.choices)
    query = models.CharField(max_length=200)
    normalized_query = models.CharField(max_length=200)
    result_count = models.PositiveIntegerField(default=0)
    top_score = models.FloatField(default=0.0)
    clicked_article = models.ForeignKey(
        Article, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        verbose_name = _("search")
        verbose_name_plural = _("searches")
        indexes = [
            models.Index(fields=["workspace", "language", "-created_at"], name="hc_search_time")
        ]

    def __str__(self) -> str:
        return self.query


class IndexVersion(models.Model):
    """A counter bumped in the transaction of every change to published content, so each web
    process can tell with one cheap read whether its search index is still current."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="+")
    version = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.workspace_id}: {self.version}"
