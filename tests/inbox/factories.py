import factory

from ascolto.inbox.models import Inbox
from tests.accounts.factories import WorkspaceFactory


class InboxFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Inbox

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Inbox {n}")
    channel = "webchat"
    routing = "manual"
