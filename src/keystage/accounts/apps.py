from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "keystage.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from keystage.accounts.middleware import start_session_clock

        user_logged_in.connect(start_session_clock, dispatch_uid="keystage-session-clock")
