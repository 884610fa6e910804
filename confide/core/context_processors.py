from confide.core.permissions import ROLE_PERMISSIONS, Role


def practice(request):
    membership = getattr(request, "membership", None)
    return {
        "current_practice": getattr(request, "practice", None),
        "current_membership": membership,
        "all_memberships": getattr(request, "memberships", []),
        # Only to decide which links to show; the route table is what grants access.
        "perms_for_role": {str(p) for p in ROLE_PERMISSIONS[Role(membership.role)]} if membership else set(),
    }
