from django.urls import path

from . import teams, tokens, users

urlpatterns = [
    path("auth/token/", tokens.TokenView.as_view(), name="auth-token"),
    path("auth/tokens/", tokens.TokenListView.as_view(), name="auth-tokens"),
    path("auth/tokens/<str:token_id>/", tokens.TokenDetailView.as_view(), name="auth-token-detail"),
    path("users/", users.UserListView.as_view(), name="users"),
    path("users/me/", users.UserMeView.as_view(), name="user-me"),
    path("users/<str:user_id>/", users.UserDetailView.as_view(), name="user-detail"),
    path("teams/", teams.TeamListView.as_view(), name="teams"),
    path("teams/<str:team_id>/", teams.TeamDetailView.as_view(), name="team-detail"),
    path("teams/<str:team_id>/members/", teams.TeamMembersView.as_view(), name="team-members"),
    path("teams/<str:team_id>/members/<str:user_id>/", teams.TeamMemberDetailView.as_view(), name="team-member"),
]
