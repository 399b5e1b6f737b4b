from django.urls import path

from keystage.accounts import views

urlpatterns = [
    path("sign-in", views.sign_in, name="sign-in"),
    path("sign-out", views.sign_out, name="sign-out"),
    path("two-factor/setup", views.two_factor_setup, name="two-factor-setup"),
    path("two-factor/verify", views.two_factor_verify, name="two-factor-verify"),
]
