from django.urls import path

from keystage.accounts import views

urlpatterns = [
    path("sign-in", views.sign_in, name="sign-in"),
    path("sign-out", views.sign_out, name="sign-out"),
    path("two-factor/setup", views.two_factor_setup, name="two-factor-setup"),
    path("two-factor/verify", views.two_factor_verify, name="two-factor-verify"),
    path("account/password", views.password_change, name="password-change"),
    path("users/", views.users, name="users"),
    path("users/new", views.user_create, name="user-create"),
    path("users/<int:membership_id>/", views.user_detail, name="user-detail"),
    path("users/<int:membership_id>/approver", views.user_approver, name="user-approver"),
    path("users/<int:membership_id>/deactivate", views.user_deactivate, name="user-deactivate"),
    path(
        "users/<int:membership_id>/reset-password",
        views.user_reset_password,
        name="user-reset-password",
    ),
    path("la/<str:code>/two-factor", views.la_two_factor, name="la-two-factor"),
]
