"""ACC2: the single-use rules of the MFA devices hold against the database, not against the copy
of the device one request loaded (several requests of one user run at once)."""

from confide.accounts.models import RecoveryCodeDevice, TOTPDevice
from confide.core.permissions import Role


def test_acc2_a_failure_on_a_stale_copy_does_not_make_a_used_code_usable_again(world, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user = world.a.user(Role.CLINICIAN)
    stale, fresh = TOTPDevice.objects.get(user=user), TOTPDevice.objects.get(user=user)
    code = fresh.current_code()
    assert fresh.verify_token(code)
    # A wrong code checked on a copy loaded before the success: django-otp would save that whole
    # copy, putting the old last_t back.
    assert not stale.verify_token("000000")
    assert TOTPDevice.objects.get(pk=fresh.pk).last_t == fresh.last_t
    assert not TOTPDevice.objects.get(pk=fresh.pk).verify_token(code)


def test_acc2_a_code_is_refused_when_the_database_already_holds_its_time_step(world, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user = world.a.user(Role.CLINICIAN)
    first, second = TOTPDevice.objects.get(user=user), TOTPDevice.objects.get(user=user)
    code = first.current_code()
    assert first.verify_token(code)
    assert not second.verify_token(code)  # its own last_t is still -1; the row's is not


def test_acc2_failures_counted_on_stale_copies_all_count(world):
    user = world.a.user(Role.CLINICIAN)
    copies = [TOTPDevice.objects.get(user=user) for _ in range(3)]
    for copy in copies:
        assert not copy.verify_token("000000")
    assert TOTPDevice.objects.get(user=user).throttling_failure_count == 3


def test_acc2_a_recovery_code_deleted_by_another_request_is_refused(world):
    user = world.a.user(Role.BILLING)
    first = RecoveryCodeDevice.objects.get(user=user)
    second = RecoveryCodeDevice.objects.get(user=user)
    codes = first.regenerate()
    assert first.verify_token(codes[0])
    assert not second.verify_token(codes[0])
    assert first.remaining() == 9
