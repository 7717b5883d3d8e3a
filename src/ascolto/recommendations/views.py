"""The Recommendations panel of the Customer 360 page, loaded by htmx after the page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from ascolto.core.errors import NotFound
from ascolto.core.views import current_workspace, render_in_workspace
from ascolto.customers import selectors as customer_selectors
from ascolto.recommendations import selectors


@login_required
@require_GET
def customer_panel(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = current_workspace(request)
    try:
        customer = customer_selectors.customer_get(workspace=workspace, customer_id=pk)
    except NotFound:
        raise Http404(_("No such customer in this workspace.")) from None
    context = {
        "customer": customer,
        "recommendations": selectors.recommendations_for(customer=customer),
        "replenishment": selectors.replenishment_for(customer=customer),
    }
    return render_in_workspace(request, "recommendations/_panel.html", context)
