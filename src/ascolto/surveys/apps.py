from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "ascolto.surveys"
    label = "surveys"
    verbose_name = "Surveys"

    def ready(self) -> None:
        from ascolto.connectors.webchat import handlers as webchat
        from ascolto.inbox import inbound
        from ascolto.surveys.services import chat, distribution

        inbound.register_classifier(distribution.classify_inbound)
        webchat.set_survey_link(chat.chat_survey_url)
