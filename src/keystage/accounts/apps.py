from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "keystage.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"
