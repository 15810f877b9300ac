from rest_framework.routers import SimpleRouter

from shared_apps.organizations.apis import InvitationViewSet, MemberViewSet

router = SimpleRouter(use_regex_path=False)
router.register("members", MemberViewSet, basename="member")
router.register("invitations", InvitationViewSet, basename="invitation")
urlpatterns = router.urls
