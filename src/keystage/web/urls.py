"""URL configuration. The web pages arrive with the web-service issue."""

urlpatterns: list = []
