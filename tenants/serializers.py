from rest_framework import serializers


class SignupInputSerializer(serializers.Serializer):
    """Shape only; the rules (subdomain, password strength, uniqueness) live in the service."""

    name = serializers.CharField(max_length=200, trim_whitespace=True)
    subdomain = serializers.CharField(max_length=63)
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})
    plan = serializers.CharField(required=False, allow_blank=True, max_length=32)


class TenantOutputSerializer(serializers.Serializer):
    subdomain = serializers.CharField()
    url = serializers.CharField()
    status = serializers.CharField()
    plan = serializers.CharField()


class UserOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    full_name = serializers.CharField()


class SignupOutputSerializer(serializers.Serializer):
    tenant = TenantOutputSerializer()
    user = UserOutputSerializer()


class MeTenantSerializer(serializers.Serializer):
    name = serializers.CharField()
    subdomain = serializers.CharField()
    url = serializers.CharField()
    status = serializers.CharField()
    plan = serializers.CharField()
    read_only = serializers.BooleanField()  # type: ignore[assignment]  # the JSON key


class MeOutputSerializer(serializers.Serializer):
    user = UserOutputSerializer()
    role = serializers.CharField()
    tenant = MeTenantSerializer()


class SessionLoginSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False)
    otp = serializers.CharField(required=False, allow_blank=True, max_length=64)


class PasswordResetInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmInputSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=512, trim_whitespace=True)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class MfaCodeInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)


class TotpSetupOutputSerializer(serializers.Serializer):
    secret = serializers.CharField()
    otpauth_url = serializers.CharField()


class RecoveryCodesOutputSerializer(serializers.Serializer):
    recovery_codes = serializers.ListField(child=serializers.CharField())


class MfaRequirementSerializer(serializers.Serializer):
    mfa_required = serializers.BooleanField()
