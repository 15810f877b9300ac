from rest_framework import serializers


class PlanBriefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    monthly_price_cents = serializers.IntegerField(help_text="a seat's price on per-seat plans")
    per_seat = serializers.BooleanField()


class PlanOfferSerializer(PlanBriefSerializer):
    purchasable = serializers.BooleanField()


class LimitsSerializer(serializers.Serializer):
    members = serializers.IntegerField(allow_null=True)
    products = serializers.IntegerField(allow_null=True)
    orders_per_month = serializers.IntegerField(allow_null=True)


class SubscriptionSerializer(serializers.Serializer):
    status = serializers.CharField(allow_blank=True)
    current_period_end = serializers.DateTimeField(allow_null=True)


class SeatsSerializer(serializers.Serializer):
    used = serializers.IntegerField(help_text="billable members (everyone but viewers)")
    paid = serializers.IntegerField(allow_null=True, help_text="the Stripe quantity")
    price_cents = serializers.IntegerField()
    pending = serializers.BooleanField(help_text="a change not yet confirmed by Stripe")
    error = serializers.BooleanField()


class EntitlementSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # the JSON key
    kind = serializers.CharField(help_text='"feature" or "limit"')
    included = serializers.BooleanField()
    value = serializers.IntegerField(allow_null=True, help_text="limits: null = unlimited")
    usage = serializers.IntegerField(allow_null=True)
    overridden = serializers.BooleanField()


class BillingOverviewSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    message = serializers.CharField(allow_blank=True)
    status = serializers.CharField()
    read_only = serializers.BooleanField()  # type: ignore[assignment]  # the JSON key
    trial_ends_at = serializers.DateTimeField(allow_null=True)
    plan = PlanBriefSerializer()
    limits = LimitsSerializer(help_text="null means unlimited")
    usage = LimitsSerializer()
    subscription = SubscriptionSerializer()
    seats = SeatsSerializer(allow_null=True, help_text="per-seat plans only")
    entitlements = EntitlementSerializer(many=True)
    plans = PlanOfferSerializer(many=True)


class CheckoutInputSerializer(serializers.Serializer):
    plan = serializers.CharField(max_length=32)


class SessionUrlSerializer(serializers.Serializer):
    url = serializers.URLField()
